// Reference logits from llama.cpp for Hearth's model tests.
//
// Usage: dump_logits MODEL.gguf TOPN ID ID ID ...
// Feeds the token ids as one sequence (one decode per token, so every position is computed
// exactly as in generation) and prints, for each position, one JSON line:
//   {"pos": P, "top": [[id, logit], ...], "mean": m, "std": s}
// DUMP_CACHE_TYPE=q8_0 stores keys and values as Q8_0 (as `-ctk q8_0 -ctv q8_0 -fa on`).
// Built and run by scripts/reference/make-logit-fixtures.sh against a llama.cpp build.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "llama.h"

static void quiet(enum ggml_log_level level, const char *text, void *data) {
    (void)level; (void)text; (void)data;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s MODEL TOPN ID...\n", argv[0]);
        return 2;
    }
    llama_log_set(quiet, NULL);
    llama_backend_init();
    struct llama_model_params mp = llama_model_default_params();
    struct llama_model *model = llama_model_load_from_file(argv[1], mp);
    if (!model) { fprintf(stderr, "cannot load %s\n", argv[1]); return 1; }
    int topn = atoi(argv[2]);
    int n = argc - 3;
    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = n + 16;
    cp.n_batch = n + 16;
    cp.n_threads = 2;
    cp.n_threads_batch = 2;
    const char *cache_type = getenv("DUMP_CACHE_TYPE");
    if (cache_type && strcmp(cache_type, "q8_0") == 0) {
        cp.type_k = GGML_TYPE_Q8_0;
        cp.type_v = GGML_TYPE_Q8_0;
        cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_ENABLED;
    } else if (cache_type && strcmp(cache_type, "f16") != 0) {
        fprintf(stderr, "DUMP_CACHE_TYPE must be f16 or q8_0\n");
        return 2;
    }
    struct llama_context *ctx = llama_init_from_model(model, cp);
    const struct llama_vocab *vocab = llama_model_get_vocab(model);
    int nv = llama_vocab_n_tokens(vocab);
    for (int i = 0; i < n; i++) {
        llama_token tok = atoi(argv[3 + i]);
        struct llama_batch batch = llama_batch_get_one(&tok, 1);
        if (llama_decode(ctx, batch) != 0) { fprintf(stderr, "decode failed at %d\n", i); return 1; }
        float *logits = llama_get_logits_ith(ctx, -1);
        double sum = 0, sq = 0;
        for (int v = 0; v < nv; v++) { sum += logits[v]; sq += (double)logits[v] * logits[v]; }
        double mean = sum / nv, sd = sqrt(sq / nv - mean * mean);
        printf("{\"pos\": %d, \"mean\": %.6f, \"std\": %.6f, \"top\": [", i, mean, sd);
        // selection of the top N (N is small)
        int *chosen = calloc(nv, sizeof(int));
        for (int k = 0; k < topn; k++) {
            int best = -1;
            for (int v = 0; v < nv; v++) if (!chosen[v] && (best < 0 || logits[v] > logits[best])) best = v;
            chosen[best] = 1;
            printf("%s[%d, %.6f]", k ? ", " : "", best, logits[best]);
        }
        free(chosen);
        printf("]}\n");
    }
    llama_free(ctx);
    llama_model_free(model);
    return 0;
}
