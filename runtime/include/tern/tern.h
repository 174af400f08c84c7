/* The ternc runtime C API: loads compiled ternary models and runs them. */
#ifndef TERN_TERN_H
#define TERN_TERN_H

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes, in the spirit of absl/IREE canonical codes. */
typedef enum tern_status_code_e {
  TERN_STATUS_OK = 0,
  TERN_STATUS_INVALID_ARGUMENT = 1, /* a bad parameter or flag value */
  TERN_STATUS_NOT_FOUND = 2,        /* a file, tensor or key that does not exist */
  TERN_STATUS_OUT_OF_RANGE = 3,     /* e.g. a prompt longer than the context */
  TERN_STATUS_DATA_LOSS = 4,        /* a corrupt or truncated file */
  TERN_STATUS_UNIMPLEMENTED = 5,    /* a feature this build does not have */
  TERN_STATUS_UNAVAILABLE = 6,      /* e.g. a device or CPU feature this host lacks */
  TERN_STATUS_RESOURCE_EXHAUSTED = 7,
  TERN_STATUS_INTERNAL = 8,
} tern_status_code_t;

/* The result of a call that can fail: NULL means success. A non-NULL status is owned by the
 * caller, who reads it with tern_status_code/tern_status_message and frees it with
 * tern_status_free. Statuses are immutable; any thread may read one. */
typedef struct tern_status_s* tern_status_t;
#define tern_status_ok(status) ((status) == NULL)

/* Creates a status with |code| and a copy of the NUL-terminated |message|. TERN_STATUS_OK gives
 * NULL. If memory runs out, a static status with code TERN_STATUS_RESOURCE_EXHAUSTED is returned
 * (freeing it is a no-op). Thread-safe. */
tern_status_t tern_status_create(tern_status_code_t code, const char* message);

/* The code of |status|; TERN_STATUS_OK for NULL. Thread-safe. */
tern_status_code_t tern_status_code(tern_status_t status);

/* The message of |status|, valid until it is freed; "" for NULL. Thread-safe. */
const char* tern_status_message(tern_status_t status);

/* The canonical name of |code| ("INVALID_ARGUMENT"), a static string. Thread-safe. */
const char* tern_status_code_name(tern_status_code_t code);

/* Releases |status|; NULL is allowed. */
void tern_status_free(tern_status_t status);

/* The runtime's version, "MAJOR.MINOR.PATCH", a static string. Thread-safe. */
const char* tern_version(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* TERN_TERN_H */
