// A minimal C interface over libsentencepiece's C++ SentencePieceProcessor.
// Every call that can fail returns 0 on success and writes a message on failure.
#ifndef CSENTENCEPIECE_H
#define CSENTENCEPIECE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct spm_processor spm_processor;

/// What `spm_load_serialized` returns.
enum { SPM_LOADED = 0, SPM_INVALID = 1, SPM_OUT_OF_MEMORY = 2 };

/// Loads a SentencePiece model from the `length` bytes of a model file (`bytes` may be NULL when `length` is 0) into
/// `*out`. On failure returns SPM_INVALID (not a SentencePiece model) or SPM_OUT_OF_MEMORY and fills `error`
/// (NUL-terminated, truncated to `error_capacity`). No C++ exception leaves this or any other function of the shim.
int spm_load_serialized(const char *bytes, size_t length, spm_processor **out, char *error, size_t error_capacity);

void spm_free(spm_processor *processor);

/// Number of pieces in the model's own vocabulary.
int32_t spm_piece_count(const spm_processor *processor);

/// The piece of id `id` (0 <= id < spm_piece_count), NUL-terminated; owned by the model, valid while it is loaded.
const char *spm_id_to_piece(const spm_processor *processor, int32_t id);

/// Encodes UTF-8 `text` (`length` bytes) into pieces. On success the pieces are written back to back into one
/// buffer, `*out` (release with `spm_free_buffer`) of `*out_length` bytes: for each of the `*out_count` pieces, its
/// byte length as a `size_t` (unaligned, native byte order), then its bytes. Lengths, not NUL separators: a piece
/// holds a NUL byte when the text does.
int spm_encode_pieces(const spm_processor *processor, const char *text, size_t length,
                      char **out, size_t *out_length, int32_t *out_count,
                      char *error, size_t error_capacity);

/// Joins pieces (`count` NUL-terminated strings) into detokenized UTF-8 text; `*out` NUL-terminated.
int spm_decode_pieces(const spm_processor *processor, const char *const *pieces, int32_t count,
                      char **out, char *error, size_t error_capacity);

void spm_free_buffer(char *buffer);

#ifdef __cplusplus
}
#endif

#endif
