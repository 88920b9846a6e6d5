// See include/CMPIShim.h. Handles: Open MPI's MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM … are the
// addresses of exported globals (ompi_mpi_comm_world, …); MPICH's are fixed int constants
// from its mpi.h (the values below, stable across MPICH 3.x/4.x and its derivatives).
#define _GNU_SOURCE
#include "CMPIShim.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

enum family { FAMILY_NONE, FAMILY_OPEN_MPI, FAMILY_MPICH };
static enum family family = FAMILY_NONE;
static void *library;

// Open MPI: every handle is a pointer.
typedef void *ompi_handle;
static ompi_handle ompi_comm_world, ompi_float, ompi_double, ompi_byte, ompi_sum, ompi_errors_return;
#define OMPI_IN_PLACE ((void *)1)

// MPICH: every handle is an int.
#define MPICH_COMM_WORLD 0x44000000
#define MPICH_BYTE 0x4c00010d
#define MPICH_FLOAT 0x4c00040a
#define MPICH_DOUBLE 0x4c00080b
#define MPICH_SUM 0x58000003
#define MPICH_ERRORS_RETURN 0x54000001
#define MPICH_IN_PLACE ((void *)-1)

static int (*f_init)(int *, char ***);
static int (*f_initialized)(int *);
static int (*f_finalize)(void);
static int (*f_error_string)(int, char *, int *);
static void *f_comm_rank, *f_comm_size, *f_allreduce, *f_allgatherv, *f_gatherv, *f_bcast, *f_barrier, *f_abort, *f_set_errhandler;

static int fail(char *error, size_t size, const char *what, const char *detail) {
    snprintf(error, size, "%s%s%s", what, detail ? ": " : "", detail ? detail : "");
    return -1;
}

int lk_mpi_load(const char *path, char *error, size_t error_size) {
    if (library) return 0;
    // RTLD_GLOBAL: Open MPI's own plugins resolve libmpi's symbols from the global scope.
    void *h = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
    if (!h) return fail(error, error_size, "cannot load", dlerror());
    struct { const char *name; void **slot; } functions[] = {
        {"MPI_Init", (void **)&f_init}, {"MPI_Initialized", (void **)&f_initialized}, {"MPI_Finalize", (void **)&f_finalize},
        {"MPI_Error_string", (void **)&f_error_string}, {"MPI_Comm_rank", &f_comm_rank}, {"MPI_Comm_size", &f_comm_size},
        {"MPI_Allreduce", &f_allreduce}, {"MPI_Allgatherv", &f_allgatherv}, {"MPI_Gatherv", &f_gatherv},
        {"MPI_Bcast", &f_bcast}, {"MPI_Barrier", &f_barrier}, {"MPI_Abort", &f_abort},
        {"MPI_Comm_set_errhandler", &f_set_errhandler},
    };
    for (size_t i = 0; i < sizeof functions / sizeof functions[0]; i++) {
        *functions[i].slot = dlsym(h, functions[i].name);
        if (!*functions[i].slot) {
            dlclose(h);
            return fail(error, error_size, "not an MPI library (no symbol)", functions[i].name);
        }
    }
    if (dlsym(h, "ompi_mpi_comm_world")) {
        ompi_comm_world = dlsym(h, "ompi_mpi_comm_world");
        ompi_float = dlsym(h, "ompi_mpi_float");
        ompi_double = dlsym(h, "ompi_mpi_double");
        ompi_byte = dlsym(h, "ompi_mpi_byte");
        ompi_sum = dlsym(h, "ompi_mpi_op_sum");
        ompi_errors_return = dlsym(h, "ompi_mpi_errors_return");
        if (!ompi_float || !ompi_double || !ompi_byte || !ompi_sum || !ompi_errors_return) {
            dlclose(h);
            return fail(error, error_size, "an Open MPI library without its predefined handles", path);
        }
        family = FAMILY_OPEN_MPI;
    } else if (dlsym(h, "MPIR_Err_return_comm") || dlsym(h, "MPIR_Process") || dlsym(h, "MPICH_ABI_VERSION")
               || dlsym(h, "MPIX_Comm_failure_ack")) {
        family = FAMILY_MPICH;
    } else {
        dlclose(h);
        return fail(error, error_size, "an MPI library of unknown kind (neither Open MPI nor MPICH)", path);
    }
    library = h;
    return 0;
}

const char *lk_mpi_family(void) {
    switch (family) {
    case FAMILY_OPEN_MPI: return "Open MPI";
    case FAMILY_MPICH: return "MPICH";
    default: return NULL;
    }
}

#define CALL(ompi_type, ompi_args, mpich_type, mpich_args, fn) \
    (family == FAMILY_OPEN_MPI ? ((ompi_type)(fn))ompi_args : ((mpich_type)(fn))mpich_args)

int lk_mpi_init(void) {
    int done = 0;
    int rc = f_initialized(&done);
    if (rc == 0 && !done) rc = f_init(NULL, NULL);
    if (rc != 0) return rc;
    return CALL(int (*)(ompi_handle, ompi_handle), (ompi_comm_world, ompi_errors_return),
                int (*)(int, int), (MPICH_COMM_WORLD, MPICH_ERRORS_RETURN), f_set_errhandler);
}

int lk_mpi_rank(int *rank) {
    return CALL(int (*)(ompi_handle, int *), (ompi_comm_world, rank), int (*)(int, int *), (MPICH_COMM_WORLD, rank), f_comm_rank);
}

int lk_mpi_size(int *size) {
    return CALL(int (*)(ompi_handle, int *), (ompi_comm_world, size), int (*)(int, int *), (MPICH_COMM_WORLD, size), f_comm_size);
}

typedef int (*ompi_allreduce)(const void *, void *, int, ompi_handle, ompi_handle, ompi_handle);
typedef int (*mpich_allreduce)(const void *, void *, int, int, int, int);

int lk_mpi_allreduce_sum_float(float *buffer, int count) {
    return CALL(ompi_allreduce, (OMPI_IN_PLACE, buffer, count, ompi_float, ompi_sum, ompi_comm_world),
                mpich_allreduce, (MPICH_IN_PLACE, buffer, count, MPICH_FLOAT, MPICH_SUM, MPICH_COMM_WORLD), f_allreduce);
}

int lk_mpi_allreduce_sum_double(double *buffer, int count) {
    return CALL(ompi_allreduce, (OMPI_IN_PLACE, buffer, count, ompi_double, ompi_sum, ompi_comm_world),
                mpich_allreduce, (MPICH_IN_PLACE, buffer, count, MPICH_DOUBLE, MPICH_SUM, MPICH_COMM_WORLD), f_allreduce);
}

int lk_mpi_allgatherv_float(float *buffer, const int *counts, const int *displacements) {
    typedef int (*ompi_t)(const void *, int, ompi_handle, void *, const int *, const int *, ompi_handle, ompi_handle);
    typedef int (*mpich_t)(const void *, int, int, void *, const int *, const int *, int, int);
    return CALL(ompi_t, (OMPI_IN_PLACE, 0, ompi_float, buffer, counts, displacements, ompi_float, ompi_comm_world),
                mpich_t, (MPICH_IN_PLACE, 0, MPICH_FLOAT, buffer, counts, displacements, MPICH_FLOAT, MPICH_COMM_WORLD), f_allgatherv);
}

int lk_mpi_gatherv_float(const float *send, int send_count, float *receive, const int *counts, const int *displacements, int root) {
    typedef int (*ompi_t)(const void *, int, ompi_handle, void *, const int *, const int *, ompi_handle, int, ompi_handle);
    typedef int (*mpich_t)(const void *, int, int, void *, const int *, const int *, int, int, int);
    return CALL(ompi_t, (send, send_count, ompi_float, receive, counts, displacements, ompi_float, root, ompi_comm_world),
                mpich_t, (send, send_count, MPICH_FLOAT, receive, counts, displacements, MPICH_FLOAT, root, MPICH_COMM_WORLD), f_gatherv);
}

int lk_mpi_bcast_bytes(void *buffer, int count, int root) {
    return CALL(int (*)(void *, int, ompi_handle, int, ompi_handle), (buffer, count, ompi_byte, root, ompi_comm_world),
                int (*)(void *, int, int, int, int), (buffer, count, MPICH_BYTE, root, MPICH_COMM_WORLD), f_bcast);
}

int lk_mpi_barrier(void) {
    return CALL(int (*)(ompi_handle), (ompi_comm_world), int (*)(int), (MPICH_COMM_WORLD), f_barrier);
}

int lk_mpi_abort(int code) {
    return CALL(int (*)(ompi_handle, int), (ompi_comm_world, code), int (*)(int, int), (MPICH_COMM_WORLD, code), f_abort);
}

int lk_mpi_finalize(void) { return f_finalize(); }

void lk_mpi_error_string(int code, char *buffer, size_t buffer_size) {
    char text[1024];
    int length = 0;
    if (f_error_string && f_error_string(code, text, &length) == 0 && length > 0) {
        snprintf(buffer, buffer_size, "%.*s", length, text);
    } else {
        snprintf(buffer, buffer_size, "MPI error %d", code);
    }
}
