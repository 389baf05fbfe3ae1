// Reference sentence embeddings from llama.cpp for Hearth's embedding tests.
//
// Usage: dump_embeddings MODEL.gguf < texts.txt
// Reads texts separated by NUL bytes (UTF-8; newlines belong to the text) and prints, for each,
// one JSON line: {"tokens": [id, ...], "embedding": [x, ...]}
// The text is tokenized as llama-embedding tokenizes it (special tokens added and parsed), run in
// one batch with the model's own pooling (`--pooling` unset) and scaled to unit length exactly as
// `llama-embedding --embd-normalize 2` scales it (common_embd_normalize: a float sum of squares,
// its square root in double). Built and run by scripts/reference/make-embedding-fixtures.py.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "llama.h"

static void quiet(enum ggml_log_level level, const char *text, void *data) {
    (void)level; (void)text; (void)data;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s MODEL < texts\n", argv[0]);
        return 2;
    }
    if (!getenv("DUMP_VERBOSE")) llama_log_set(quiet, NULL);
    llama_backend_init();
    struct llama_model_params mp = llama_model_default_params();
    struct llama_model *model = llama_model_load_from_file(argv[1], mp);
    if (!model) { fprintf(stderr, "cannot load %s\n", argv[1]); return 1; }
    const struct llama_vocab *vocab = llama_model_get_vocab(model);
    const int n_embd = llama_model_n_embd(model);
    static char input[1 << 20];
    size_t total = fread(input, 1, sizeof input - 1, stdin);
    input[total] = 0;
    for (size_t offset = 0; offset < total;) {
        char *line = input + offset;
        size_t length = strlen(line);
        offset += length + 1;
        llama_token tokens[4096];
        int n = llama_tokenize(vocab, line, (int)length, tokens, 4096, true, true);
        if (n < 0) { fprintf(stderr, "too many tokens\n"); return 1; }
        struct llama_context_params cp = llama_context_default_params();
        cp.n_ctx = n + 16;
        cp.n_batch = n + 16;
        cp.n_ubatch = n + 16;
        cp.n_threads = 2;
        cp.n_threads_batch = 2;
        cp.embeddings = true;
        // DUMP_FLASH_ATTN=0 turns flash attention off (by default llama.cpp's CPU backend runs it,
        // with keys and values rounded to binary16).
        const char *flash = getenv("DUMP_FLASH_ATTN");
        if (flash && strcmp(flash, "0") == 0) cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
        struct llama_context *ctx = llama_init_from_model(model, cp);
        if (!ctx) { fprintf(stderr, "cannot make a context\n"); return 1; }
        struct llama_batch batch = llama_batch_init(n, 0, 1);
        for (int i = 0; i < n; i++) {
            batch.token[i] = tokens[i];
            batch.pos[i] = i;
            batch.n_seq_id[i] = 1;
            batch.seq_id[i][0] = 0;
            batch.logits[i] = 1;
        }
        batch.n_tokens = n;
        if (llama_decode(ctx, batch) < 0) { fprintf(stderr, "decode failed\n"); return 1; }
        const float *embd = llama_get_embeddings_seq(ctx, 0);
        if (!embd) { fprintf(stderr, "no sequence embedding (pooling none?)\n"); return 1; }
        double sum = 0.0;
        for (int i = 0; i < n_embd; i++) sum += embd[i] * embd[i];
        sum = sqrt(sum);
        const float norm = sum > 0.0 ? 1.0 / sum : 0.0f;
        printf("{\"tokens\": [");
        for (int i = 0; i < n; i++) printf("%s%d", i ? ", " : "", tokens[i]);
        printf("], \"embedding\": [");
        for (int i = 0; i < n_embd; i++) printf("%s%.8g", i ? ", " : "", embd[i] * norm);
        printf("]}\n");
        llama_batch_free(batch);
        llama_free(ctx);
    }
    llama_model_free(model);
    return 0;
}
