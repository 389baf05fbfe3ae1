// Reference greedy generation from llama.cpp, as llama-simple does it: the prompt is tokenised
// with special tokens added and parsed, decoded as one batch, then N tokens are chosen greedily
// (stopping at an end-of-generation token).
//
// Usage: greedy_ids MODEL N PROMPT   → prints "PROMPT_IDS\nGENERATED_IDS\n" (space-separated)
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "llama.h"

static void quiet(enum ggml_log_level level, const char *text, void *data) {
    (void)level; (void)text; (void)data;
}

int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: %s MODEL N PROMPT\n", argv[0]); return 2; }
    llama_log_set(quiet, NULL);
    llama_backend_init();
    struct llama_model *model = llama_model_load_from_file(argv[1], llama_model_default_params());
    if (!model) { fprintf(stderr, "cannot load %s\n", argv[1]); return 1; }
    const struct llama_vocab *vocab = llama_model_get_vocab(model);
    int n_predict = atoi(argv[2]);
    const char *prompt = argv[3];
    int n_prompt = -llama_tokenize(vocab, prompt, strlen(prompt), NULL, 0, true, true);
    llama_token *tokens = malloc(sizeof(llama_token) * (n_prompt + n_predict + 1));
    llama_tokenize(vocab, prompt, strlen(prompt), tokens, n_prompt, true, true);
    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = n_prompt + n_predict + 8;
    cp.n_batch = n_prompt + 8;
    cp.n_threads = 2;
    cp.n_threads_batch = 2;
    struct llama_context *ctx = llama_init_from_model(model, cp);
    struct llama_sampler *smpl = llama_sampler_chain_init(llama_sampler_chain_default_params());
    llama_sampler_chain_add(smpl, llama_sampler_init_greedy());
    for (int i = 0; i < n_prompt; i++) printf("%s%d", i ? " " : "", tokens[i]);
    printf("\n");
    struct llama_batch batch = llama_batch_get_one(tokens, n_prompt);
    for (int i = 0; i < n_predict; i++) {
        if (llama_decode(ctx, batch)) { fprintf(stderr, "decode failed\n"); return 1; }
        llama_token id = llama_sampler_sample(smpl, ctx, -1);
        if (llama_vocab_is_eog(vocab, id)) break;
        printf("%s%d", i ? " " : "", id);
        tokens[n_prompt + i] = id;
        batch = llama_batch_get_one(&tokens[n_prompt + i], 1);
    }
    printf("\n");
    llama_sampler_free(smpl);
    llama_free(ctx);
    llama_model_free(model);
    return 0;
}
