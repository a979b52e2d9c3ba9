/*
 * An OpenCL ICD that forwards everything to oclgrind's ICD (the work-item simulator) and reports its device as one
 * device type. Oclgrind 21.10 reports CL_DEVICE_TYPE with every bit set (GPU | CPU | ACCELERATOR | DEFAULT), and
 * TornadoVM 5.2 keeps only devices whose type is exactly one of GPU, CPU, ACCELERATOR or CUSTOM, so without this it
 * does not list oclgrind at all.
 *
 * How: the ICD loader finds a vendor's platforms through clIcdGetPlatformIDsKHR (looked up directly or through
 * clGetExtensionFunctionAddress) and then calls every function through the dispatch table whose address is the first
 * word of each OpenCL object. Oclgrind uses one writable table (m_dispatchTable) for all its objects; this library
 * loads oclgrind's ICD privately (RTLD_LOCAL), asks it for its platforms and replaces two entries of that table:
 * clGetDeviceInfo (CL_DEVICE_TYPE answers the one type) and clGetDeviceIDs (a type filter that excludes that type
 * finds no device). Everything else is oclgrind's own code.
 *
 * Environment, read when the loader first asks for the platforms:
 *   RESFLOW_OCLGRIND_ICD      oclgrind's ICD library (default: OCLGRIND_ICD below, set by the build)
 *   RESFLOW_OCLGRIND_TYPE     accelerator (default) or gpu. With accelerator the ICD loader's platform sort (GPUs
 *                             first, then CPUs) keeps PoCL's platform, hence TornadoVM's device 0:0, ahead of it.
 *   RESFLOW_OCLGRIND_LOG_DIR  where oclgrind-<pid>.log goes when OCLGRIND_LOG is unset (default $TMPDIR or /tmp);
 *                             the tornado backend reads the same file after every graph it runs on the simulator
 *                             and fails on any report in it (OclgrindLog.java)
 * and, only where unset, oclgrind's checks are switched on here, before oclgrind is loaded and reads them:
 *   OCLGRIND_CHECK_API=1        errors in API calls
 *   OCLGRIND_DATA_RACES=1       data races between work-items, in global and local memory
 * Out-of-bounds accesses and barrier divergence are always checked. The uninitialised-value check is opt-in
 * (OCLGRIND_UNINITIALIZED=1): oclgrind 21.10's version aborts the process on the LLVM 'freeze' instruction that the
 * optimiser emits, so with it the shim also defaults OCLGRIND_BUILD_OPTIONS to -cl-opt-disable, and the unoptimised,
 * shadow-tracked kernels ran about 20x slower here (one tiled matmul of gpt2-tiny: over 3 minutes instead of 9 s).
 *
 * Registered only through OCL_ICD_VENDORS (a folder of .icd files made by scripts/env.sh), never under /etc.
 * Built by the tornado-kernels module with gcc into target/oclgrind/ (see tornado-kernels/pom.xml).
 */
#define CL_TARGET_OPENCL_VERSION 120
#define CL_USE_DEPRECATED_OPENCL_1_2_APIS
#include <CL/cl.h>
#include <CL/cl_icd.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef OCLGRIND_ICD
#define OCLGRIND_ICD "/usr/lib/oclgrind/liboclgrind-rt-icd.so"
#endif

typedef cl_int (*icd_get_platforms_fn)(cl_uint, cl_platform_id *, cl_uint *);
typedef void *(*get_extension_fn)(const char *);

static pthread_once_t once = PTHREAD_ONCE_INIT;
static void *lib;
static icd_get_platforms_fn oclgrind_platforms;
static get_extension_fn oclgrind_extension;
static cl_api_clGetDeviceInfo oclgrind_device_info;
static cl_api_clGetDeviceIDs oclgrind_device_ids;
static cl_device_type reported = CL_DEVICE_TYPE_ACCELERATOR;
static int failed;

static cl_int CL_API_CALL shim_device_info(cl_device_id device, cl_device_info param, size_t size, void *value,
        size_t *size_ret) {
    cl_int r = oclgrind_device_info(device, param, size, value, size_ret);
    if (r == CL_SUCCESS && param == CL_DEVICE_TYPE && value != NULL && size >= sizeof(cl_device_type)) {
        *(cl_device_type *) value = reported;
    }
    return r;
}

static cl_int CL_API_CALL shim_device_ids(cl_platform_id platform, cl_device_type type, cl_uint n,
        cl_device_id *devices, cl_uint *n_ret) {
    if (type != CL_DEVICE_TYPE_ALL && type != CL_DEVICE_TYPE_DEFAULT && (type & reported) == 0) {
        if ((type & (CL_DEVICE_TYPE_CPU | CL_DEVICE_TYPE_GPU | CL_DEVICE_TYPE_ACCELERATOR | CL_DEVICE_TYPE_CUSTOM))
                == 0) {
            return CL_INVALID_DEVICE_TYPE;
        }
        if (n_ret != NULL) {
            *n_ret = 0;
        }
        return CL_DEVICE_NOT_FOUND;
    }
    return oclgrind_device_ids(platform, CL_DEVICE_TYPE_ALL, n, devices, n_ret);
}

static void set_default(const char *name, const char *value) {
    if (getenv(name) == NULL) {
        setenv(name, value, 0);
    }
}

static void load(void) {
    const char *type = getenv("RESFLOW_OCLGRIND_TYPE");
    if (type != NULL && strcmp(type, "gpu") == 0) {
        reported = CL_DEVICE_TYPE_GPU;
    } else if (type != NULL && *type != '\0' && strcmp(type, "accelerator") != 0) {
        fprintf(stderr, "resflow oclgrind shim: RESFLOW_OCLGRIND_TYPE=%s: expected gpu or accelerator\n", type);
        failed = 1;
        return;
    }
    set_default("OCLGRIND_CHECK_API", "1");
    set_default("OCLGRIND_DATA_RACES", "1");
    const char *uninitialized = getenv("OCLGRIND_UNINITIALIZED");
    if (uninitialized != NULL && strcmp(uninitialized, "1") == 0) {
        set_default("OCLGRIND_BUILD_OPTIONS", "-cl-opt-disable");
    }
    if (getenv("OCLGRIND_LOG") == NULL) {
        const char *dir = getenv("RESFLOW_OCLGRIND_LOG_DIR");
        if (dir == NULL || *dir == '\0') {
            dir = getenv("TMPDIR");
        }
        if (dir == NULL || *dir == '\0') {
            dir = "/tmp";
        }
        char log[4096];
        snprintf(log, sizeof log, "%s/oclgrind-%ld.log", dir, (long) getpid());
        setenv("OCLGRIND_LOG", log, 0);
    }
    const char *path = getenv("RESFLOW_OCLGRIND_ICD");
    if (path == NULL || *path == '\0') {
        path = OCLGRIND_ICD;
    }
    lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
        fprintf(stderr, "resflow oclgrind shim: cannot load %s: %s\n", path, dlerror());
        failed = 1;
        return;
    }
    oclgrind_platforms = (icd_get_platforms_fn) dlsym(lib, "clIcdGetPlatformIDsKHR");
    oclgrind_extension = (get_extension_fn) dlsym(lib, "clGetExtensionFunctionAddress");
    if (oclgrind_platforms == NULL || oclgrind_extension == NULL) {
        fprintf(stderr, "resflow oclgrind shim: %s is not an OpenCL ICD (no clIcdGetPlatformIDsKHR)\n", path);
        failed = 1;
        return;
    }
    cl_platform_id platform;
    cl_uint count = 0;
    if (oclgrind_platforms(1, &platform, &count) != CL_SUCCESS || count == 0) {
        fprintf(stderr, "resflow oclgrind shim: oclgrind reports no platform\n");
        failed = 1;
        return;
    }
    /* every oclgrind object starts with the address of the same dispatch table */
    struct _cl_icd_dispatch *table = *(struct _cl_icd_dispatch **) platform;
    oclgrind_device_info = table->clGetDeviceInfo;
    oclgrind_device_ids = table->clGetDeviceIDs;
    table->clGetDeviceInfo = shim_device_info;
    table->clGetDeviceIDs = shim_device_ids;
}

CL_API_ENTRY cl_int CL_API_CALL clIcdGetPlatformIDsKHR(cl_uint n, cl_platform_id *platforms, cl_uint *n_ret) {
    pthread_once(&once, load);
    if (failed) {
        if (n_ret != NULL) {
            *n_ret = 0;
        }
        return CL_PLATFORM_NOT_FOUND_KHR;
    }
    return oclgrind_platforms(n, platforms, n_ret);
}

CL_API_ENTRY void *CL_API_CALL clGetExtensionFunctionAddress(const char *name) {
    if (name != NULL && strcmp(name, "clIcdGetPlatformIDsKHR") == 0) {
        return (void *) clIcdGetPlatformIDsKHR;
    }
    pthread_once(&once, load);
    return failed ? NULL : oclgrind_extension(name);
}
