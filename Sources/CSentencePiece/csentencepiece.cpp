#include "csentencepiece.h"

#include <sentencepiece_processor.h>

#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

struct spm_processor {
    sentencepiece::SentencePieceProcessor impl;
};

static void write_error(const std::string &message, char *error, size_t capacity) {
    if (error == nullptr || capacity == 0) return;
    size_t n = message.size() < capacity - 1 ? message.size() : capacity - 1;
    std::memcpy(error, message.data(), n);
    error[n] = '\0';
}

// Every entry point catches what the library may throw (std::bad_alloc, std::ios_base::failure, protobuf's
// errors): an exception crossing into Swift would abort the process.

extern "C" int spm_load_serialized(const char *bytes, size_t length, spm_processor **out, char *error,
                                   size_t error_capacity) {
    spm_processor *processor = nullptr;
    int result = SPM_INVALID;
    try {
        processor = new spm_processor();
        auto status = processor->impl.LoadFromSerializedProto(absl::string_view(length == 0 ? "" : bytes, length));
        if (status.ok()) {
            *out = processor;
            return SPM_LOADED;
        }
        write_error(status.ToString(), error, error_capacity);
    } catch (const std::bad_alloc &) {
        write_error("out of memory", error, error_capacity);
        result = SPM_OUT_OF_MEMORY;
    } catch (const std::exception &e) {
        write_error(e.what(), error, error_capacity);
    } catch (...) {
        write_error("unknown C++ exception", error, error_capacity);
    }
    delete processor;
    return result;
}

extern "C" void spm_free(spm_processor *processor) { delete processor; }

extern "C" int32_t spm_piece_count(const spm_processor *processor) {
    try {
        return processor->impl.GetPieceSize();
    } catch (...) {
        return 0;
    }
}

extern "C" const char *spm_id_to_piece(const spm_processor *processor, int32_t id) {
    try {
        return processor->impl.IdToPiece(id).c_str();
    } catch (...) {
        return "";
    }
}

extern "C" int spm_encode_pieces(const spm_processor *processor, const char *text, size_t length,
                                 char **out, size_t *out_length, int32_t *out_count,
                                 char *error, size_t error_capacity) {
    try {
        std::vector<std::string> pieces;
        auto status = processor->impl.Encode(absl::string_view(text, length), &pieces);
        if (!status.ok()) {
            write_error(status.ToString(), error, error_capacity);
            return 1;
        }
        size_t total = 0;
        for (const auto &piece : pieces) total += sizeof(size_t) + piece.size();
        char *buffer = static_cast<char *>(std::malloc(total == 0 ? 1 : total));
        if (buffer == nullptr) {
            write_error("out of memory", error, error_capacity);
            return 1;
        }
        size_t offset = 0;
        for (const auto &piece : pieces) {
            size_t piece_length = piece.size();
            std::memcpy(buffer + offset, &piece_length, sizeof piece_length);
            offset += sizeof piece_length;
            std::memcpy(buffer + offset, piece.data(), piece.size());
            offset += piece.size();
        }
        *out = buffer;
        *out_length = total;
        *out_count = static_cast<int32_t>(pieces.size());
        return 0;
    } catch (const std::exception &e) {
        write_error(e.what(), error, error_capacity);
        return 1;
    } catch (...) {
        write_error("unknown C++ exception", error, error_capacity);
        return 1;
    }
}

extern "C" int spm_decode_pieces(const spm_processor *processor, const char *const *pieces, int32_t count,
                                 char **out, char *error, size_t error_capacity) {
    try {
        std::vector<std::string> input(pieces, pieces + count);
        std::string text;
        auto status = processor->impl.Decode(input, &text);
        if (!status.ok()) {
            write_error(status.ToString(), error, error_capacity);
            return 1;
        }
        char *buffer = static_cast<char *>(std::malloc(text.size() + 1));
        if (buffer == nullptr) {
            write_error("out of memory", error, error_capacity);
            return 1;
        }
        std::memcpy(buffer, text.data(), text.size());
        buffer[text.size()] = '\0';
        *out = buffer;
        return 0;
    } catch (const std::exception &e) {
        write_error(e.what(), error, error_capacity);
        return 1;
    } catch (...) {
        write_error("unknown C++ exception", error, error_capacity);
        return 1;
    }
}

extern "C" void spm_free_buffer(char *buffer) { std::free(buffer); }
