/* The ternc runtime C API: loads compiled ternary models and runs them. */
#ifndef TERN_TERN_H
#define TERN_TERN_H

#include <stddef.h>
#include <stdint.h>

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

/* ------------------------------------------------------------------------------------------ */
/* Models                                                                                     */
/* ------------------------------------------------------------------------------------------ */


/* A loaded `.tern` artifact: mapped weights, kernels and tokenizer. Immutable once created:
 * thread-safe, shared by any number of sessions, released after the last of them. */
typedef struct tern_model_s tern_model_t;

typedef enum tern_kernels_e {
  TERN_KERNELS_GENERATED = 0, /* the kernels the compiler generated into the artifact */
  TERN_KERNELS_REFERENCE = 1, /* the runtime's plain C++ twins: slow, for cross-checks */
} tern_kernels_t;

/* Where a model's kernels run. */
typedef enum tern_device_e {
  TERN_DEVICE_AUTO = 0, /* where the artifact's kernels run: cuda for a PTX kernel library,
                           cpu for a CPU one (and always cpu with TERN_KERNELS_REFERENCE) */
  TERN_DEVICE_CPU = 1,  /* the thread pool */
  TERN_DEVICE_CUDA = 2, /* an NVIDIA GPU, through the driver API (libcuda.so.1, loaded at open;
                           the environment variable TERN_CUDA_DRIVER names another path) */
} tern_device_t;

typedef struct tern_model_options_s {
  int32_t num_threads;    /* worker threads including the caller; 0 = one per online CPU;
                             the cuda device uses the calling thread only */
  tern_kernels_t kernels;
  tern_device_t device;   /* TERN_DEVICE_AUTO by default */
  int32_t device_ordinal; /* which GPU (cuDeviceGet ordinal) for the cuda device; default 0 */
} tern_model_options_t;

/* Fills |options| with the defaults (all CPUs, generated kernels, device auto, ordinal 0). */
void tern_model_options_init(tern_model_options_t* options);

/* Opens the artifact at |path| (mmap, verified: header, FlatBuffer, checksums, format version,
 * host CPU features, kernel ABI) and loads its kernel library. |options| may be NULL.
 * Device errors: INVALID_ARGUMENT when |options| ask for a device the artifact was not compiled
 * for (a CPU artifact on cuda, a PTX artifact's generated kernels on cpu, reference kernels on
 * cuda); UNAVAILABLE when the cuda device is asked for (or chosen by AUTO) and the NVIDIA
 * driver does not load, the GPU is missing or older than the artifact's target. */
tern_status_t tern_model_open(const char* path, const tern_model_options_t* options,
                              tern_model_t** out_model);

/* Releases |model|; NULL is allowed. Sessions must be released first. */
void tern_model_release(tern_model_t* model);

typedef struct tern_model_info_s {
  const char* architecture;  /* as the source named it; valid while the model lives */
  const char* target_cpu;    /* e.g. "x86-64-v4" */
  int64_t vocab_size;
  int64_t context_length;    /* most positions a session holds */
  int64_t num_layers;
  int64_t hidden_size;
  int64_t max_batch_rows;    /* most tokens one prefill call evaluates at once */
  uint64_t weight_bytes;     /* bytes of weight sections */
  uint64_t arena_bytes;      /* scratch per session */
  uint64_t kv_cache_bytes;   /* KV cache per session */
  int32_t num_threads;
  const char* device;        /* where the kernels run: "cpu", or "cuda:ORDINAL NAME" such as
                                "cuda:0 NVIDIA H100 80GB HBM3"; valid while the model lives */
  uint64_t device_memory_bytes; /* GPU memory of the weights plus what one session with the
                                   model's full context holds there (arena, KV caches, token
                                   and call buffers); 0 on the cpu */
} tern_model_info_t;

/* Describes |model|. Thread-safe. */
void tern_model_info(const tern_model_t* model, tern_model_info_t* out_info);

/* The chat template from the model's metadata ("" when it has none), valid while the model
 * lives. Thread-safe. */
const char* tern_model_chat_template(const tern_model_t* model);

/* ------------------------------------------------------------------------------------------ */
/* Tokenizer                                                                                  */
/* ------------------------------------------------------------------------------------------ */

typedef enum tern_special_token_e {
  TERN_TOKEN_BOS = 0,
  TERN_TOKEN_EOS = 1,
  TERN_TOKEN_EOT = 2, /* end of turn (chat models); may equal EOS */
} tern_special_token_t;

/* The id of |which|, or -1 when the model has none. Thread-safe. */
int32_t tern_model_special_token(const tern_model_t* model, tern_special_token_t which);

/* Whether generation should stop at |token| (EOS, EOT or another end-of-generation token). */
int tern_model_is_end_of_generation(const tern_model_t* model, int32_t token);

/* Tokenizes |length| bytes of UTF-8 |text|. |add_bos|: prepend BOS when the model's metadata
 * asks for it; |parse_special|: turn special-token text such as "<|eot_id|>" into its id.
 * Writes up to |capacity| ids to |tokens| and the full count to |*out_count|; if the count
 * exceeds |capacity| returns OUT_OF_RANGE (call again with a larger buffer). Thread-safe. */
tern_status_t tern_model_tokenize(const tern_model_t* model, const char* text, size_t length,
                                  int add_bos, int parse_special, int32_t* tokens,
                                  size_t capacity, size_t* out_count);

/* The text of |token| as generation should print it (bytes, possibly part of a UTF-8
 * character), copied to |buffer| (not NUL-terminated) with its length in |*out_length|.
 * OUT_OF_RANGE for an id outside the vocabulary or a too-small buffer. Thread-safe. */
tern_status_t tern_model_token_to_piece(const tern_model_t* model, int32_t token, char* buffer,
                                        size_t capacity, size_t* out_length);

/* ------------------------------------------------------------------------------------------ */
/* Sessions                                                                                   */
/* ------------------------------------------------------------------------------------------ */

/* One sequence being evaluated: a KV cache, an activation arena and the last logits. Memory is
 * allocated at creation; evaluating allocates nothing.
 * Thread-compatible: one thread at a time may use a session. */
typedef struct tern_session_s tern_session_t;

typedef struct tern_session_options_s {
  int64_t context_length; /* 0 = the model's; larger than the model's is INVALID_ARGUMENT */
} tern_session_options_t;

void tern_session_options_init(tern_session_options_t* options);

/* Creates a session over |model| with its own KV cache. |options| may be NULL. */
tern_status_t tern_session_create(tern_model_t* model, const tern_session_options_t* options,
                                  tern_session_t** out_session);

void tern_session_release(tern_session_t* session);

/* The model |session| was created over (tern_session_generate needs its tokenizer). */
tern_model_t* tern_session_model(const tern_session_t* session);

/* Forgets every evaluated token: the next one goes to position 0. */
void tern_session_reset(tern_session_t* session);

/* Tokens evaluated so far: the position the next token goes to. */
int64_t tern_session_position(const tern_session_t* session);

/* Evaluates |count| tokens at the current position (prefill in chunks of max_batch_rows, or
 * one decode step when |count| is 1) and keeps the logits of the last one. OUT_OF_RANGE when
 * the tokens would pass the context length, INVALID_ARGUMENT for an id outside the vocabulary;
 * on error the session is unchanged. */
tern_status_t tern_session_eval(tern_session_t* session, const int32_t* tokens, size_t count);

/* Like tern_session_eval, and writes the float32 logits of every one of the |count| tokens to
 * |out_logits| (count x vocab_size, row-major). */
tern_status_t tern_session_eval_all_logits(tern_session_t* session, const int32_t* tokens,
                                           size_t count, float* out_logits);

/* The logits (vocab_size floats) of the last evaluated token; NULL before any. Valid until the
 * next call that changes the session. */
const float* tern_session_logits(const tern_session_t* session);

/* ------------------------------------------------------------------------------------------ */
/* Profiling                                                                                  */
/* ------------------------------------------------------------------------------------------ */

/* A session can time every kernel dispatch of its evaluations and add the times up per kernel
 * of each entry point ("decode", "prefill", "prefill_logits"). A dispatch is timed with a
 * monotonic clock around the whole parallel dispatch, on the calling thread: the wall time the
 * token pays, including waiting for the slowest worker. On the cuda device a dispatch is timed
 * on the GPU, from a CUDA event recorded before its launch to one recorded after it, and a
 * profiled evaluation launches its kernels one by one instead of replaying a CUDA graph.
 * Profiling is off when a session is
 * created; while it is off evaluation does no timing and no bookkeeping. Nothing here allocates
 * (the counters are allocated with the session). tern_session_reset does not clear a profile.
 * Thread-compatible, like the session. */

/* What one kernel of one entry point cost while profiling was on. Fields are only ever
 * appended; see tern_session_profile_record for how the size is negotiated. */
typedef struct tern_profile_record_s {
  const char* entry_point;        /* "decode", "prefill" or "prefill_logits" */
  const char* symbol;             /* the kernel's symbol in its library */
  const char* family;             /* its family (docs/kernels.md), e.g. "ternary_matmul" */
  uint64_t entry_runs;            /* evaluations of |entry_point| (one per prefill chunk or
                                     decode step); the same in every record of the entry */
  uint64_t calls;                 /* dispatches of this kernel, over all |entry_runs| */
  double seconds;                 /* wall time of those dispatches */
  uint64_t weight_bytes;          /* bytes of the weight sections the dispatches bind (each
                                     SectionSlice binding's size), summed over |calls|; what a
                                     kernel reads, except that embedding and rope gather rows
                                     of a table bound whole */
  uint64_t weight_bytes_per_call; /* weight_bytes / calls (every dispatch of one kernel binds
                                     the same shapes, so this is exact in practice) */
  uint64_t kv_cache_bytes;        /* KV-cache bytes read, summed over |calls|: for `attention`,
                                     keys and values of positions 0 .. pos + rows - 1 of
                                     its layer; 0 for every other family (kv_cache_write only
                                     writes) */
} tern_profile_record_t;

/* Turns profiling of |session|'s evaluations on (|enabled| non-zero) or off. Turning it off
 * keeps what was accumulated; turning it on again adds to it. */
void tern_session_profile_enable(tern_session_t* session, int enabled);

/* Whether profiling of |session| is on. */
int tern_session_profile_enabled(const tern_session_t* session);

/* How many records the profile holds: one per kernel of an entry point that ran while
 * profiling was on. Records are ordered by entry point (decode, prefill, prefill_logits), then
 * by the kernel's first dispatch in it. */
size_t tern_session_profile_count(const tern_session_t* session);

/* Copies record |index| (below tern_session_profile_count) to |*out_record|. |record_size| is
 * sizeof(tern_profile_record_t) as the caller was compiled: a runtime that knows more fields
 * fills only the caller's, one that knows fewer zeroes the rest. Strings are valid while the
 * model lives. INVALID_ARGUMENT names a NULL |out_record| or a |record_size| smaller than the
 * first version of the record; OUT_OF_RANGE names an |index| past the count. */
tern_status_t tern_session_profile_record(const tern_session_t* session, size_t index,
                                          tern_profile_record_t* out_record,
                                          size_t record_size);

/* Clears every record of |session|'s profile (whether profiling is on or off). */
void tern_session_profile_reset(tern_session_t* session);

/* ------------------------------------------------------------------------------------------ */
/* Sampling                                                                                   */
/* ------------------------------------------------------------------------------------------ */

/* Chooses the next token from logits: repetition penalty, then temperature, top-k, top-p and
 * min-p filters, then a seeded draw. Temperature 0 is greedy (argmax, lowest id on ties).
 * Thread-compatible. */
typedef struct tern_sampler_s tern_sampler_t;

typedef struct tern_sampler_options_s {
  float temperature;      /* 0 = greedy; must be >= 0 */
  int32_t top_k;          /* 0 = off; must be >= 0 */
  float top_p;            /* 1 = off; in (0, 1] */
  float min_p;            /* 0 = off; in [0, 1) */
  float repeat_penalty;   /* 1 = off; must be > 0 */
  int32_t repeat_last_n;  /* tokens the penalty looks back over; must be >= 0 */
  uint64_t seed;
} tern_sampler_options_t;

/* Greedy defaults: temperature 0, top_k 0, top_p 1, min_p 0, penalty 1 over 64, seed 0. */
void tern_sampler_options_init(tern_sampler_options_t* options);

/* Creates a sampler for a vocabulary of |vocab_size|; INVALID_ARGUMENT names the bad field. */
tern_status_t tern_sampler_create(const tern_sampler_options_t* options, int64_t vocab_size,
                                  tern_sampler_t** out_sampler);

void tern_sampler_release(tern_sampler_t* sampler);

/* Picks a token from |logits| (vocab_size floats) into |*out_token|. */
tern_status_t tern_sampler_sample(tern_sampler_t* sampler, const float* logits,
                                  int32_t* out_token);

/* Records |token| (a prompt or generated token) for the repetition penalty. */
void tern_sampler_accept(tern_sampler_t* sampler, int32_t token);

/* ------------------------------------------------------------------------------------------ */
/* Generation                                                                                 */
/* ------------------------------------------------------------------------------------------ */

/* Called for each generated token as it arrives, with its text (not NUL-terminated). Return
 * non-zero to stop. */
typedef int (*tern_token_callback_t)(void* user_data, int32_t token, const char* piece,
                                     size_t piece_length);

/* Evaluates |prompt| (count tokens, may be 0 to continue), then samples and evaluates up to
 * |max_tokens| tokens, calling |callback| (may be NULL) for each. Stops early at an
 * end-of-generation token (not passed to the callback), when |callback| asks, or at the
 * context length (OUT_OF_RANGE only if the prompt itself does not fit). |*out_generated|
 * (may be NULL) receives how many tokens were generated. */
tern_status_t tern_session_generate(tern_session_t* session, tern_sampler_t* sampler,
                                    const int32_t* prompt, size_t prompt_count,
                                    int32_t max_tokens, tern_token_callback_t callback,
                                    void* user_data, int32_t* out_generated);

/* ------------------------------------------------------------------------------------------ */
/* Session memory                                                                             */
/* ------------------------------------------------------------------------------------------ */

typedef struct tern_session_info_s {
  int64_t context_length;  /* positions the session holds (its options', or the model's) */
  uint64_t kv_cache_bytes; /* keys and values allocated for |context_length| positions; a
                              session shorter than the model's context allocates less than
                              tern_model_info_t.kv_cache_bytes */
  uint64_t arena_bytes;    /* activation scratch allocated with the session */
} tern_session_info_t;

/* Describes the memory |session| holds, all of it allocated by tern_session_create (evaluation
 * allocates nothing). Thread-compatible, like the session. */
void tern_session_info(const tern_session_t* session, tern_session_info_t* out_info);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* TERN_TERN_H */
