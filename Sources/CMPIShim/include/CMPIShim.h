// A small C layer over MPI loaded at run time (dlopen), so the lorikeet binary needs no MPI
// to build or to run single-process. Open MPI and MPICH (and its ABI family: Intel MPI,
// MVAPICH) are told apart by their symbols; their handles (communicator, datatypes,
// operations) differ in kind, pointers to globals vs fixed integers, so each call goes
// through the matching function-pointer type. Every function returns an MPI error code
// (0 = success) or, for loading, -1 with a message.
#ifndef LORIKEET_CMPI_SHIM_H
#define LORIKEET_CMPI_SHIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Loads the MPI library at `path` (a file name the loader searches for, or a path), resolves
/// the functions Lorikeet calls and tells the implementation family. On failure returns -1
/// and writes the reason into `error`.
int lk_mpi_load(const char *path, char *error, size_t error_size);
/// "Open MPI" or "MPICH" once loaded, NULL before.
const char *lk_mpi_family(void);
/// MPI_Init, then MPI_ERRORS_RETURN on MPI_COMM_WORLD so failures come back as codes.
int lk_mpi_init(void);
int lk_mpi_rank(int *rank);
int lk_mpi_size(int *size);
/// In-place sum over all ranks of `count` floats (count fits in int: the caller buckets).
int lk_mpi_allreduce_sum_float(float *buffer, int count);
/// In-place sum over all ranks of `count` doubles.
int lk_mpi_allreduce_sum_double(double *buffer, int count);
/// In-place gather: rank r's floats sit at buffer[displacements[r] ..< + counts[r]] and end up on every rank.
int lk_mpi_allgatherv_float(float *buffer, const int *counts, const int *displacements);
/// Rank r sends `send_count` floats; `root` receives them at displacements (receive may be NULL elsewhere).
int lk_mpi_gatherv_float(const float *send, int send_count, float *receive, const int *counts, const int *displacements, int root);
/// `count` bytes from `root` to every rank.
int lk_mpi_bcast_bytes(void *buffer, int count, int root);
int lk_mpi_barrier(void);
/// Ends every process of the job with `code` (the launcher reports it).
int lk_mpi_abort(int code);
int lk_mpi_finalize(void);
/// MPI_Error_string of `code` into `buffer` (at least 256 bytes for MPI's longest message).
void lk_mpi_error_string(int code, char *buffer, size_t buffer_size);

#ifdef __cplusplus
}
#endif

#endif
