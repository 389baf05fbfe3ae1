// Prints the FNV-1a hash of llama.cpp's GELU table (ggml_table_gelu_f16: the binary16 GELU of
// every binary16 input) over the finite inputs below 10 in magnitude, the figure
// Tests/KernelsTests/OpsTests.swift (GeluHalfTableTests) checks Hearth's table against.
//
// Build against a llama.cpp build (see make-logit-fixtures.sh):
//   gcc -O2 -o dump-gelu-table dump-gelu-table.c -L$LLAMA_BUILD/bin -lggml-cpu -lggml-base -lm \
//       -Wl,-rpath,$LLAMA_BUILD/bin && ./dump-gelu-table
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

extern uint16_t ggml_table_gelu_f16[65536];
void ggml_cpu_init(void);

int main(void) {
    ggml_cpu_init();
    uint64_t hash = 0xcbf29ce484222325ULL;
    int entries = 0;
    for (int i = 0; i < 65536; i++) {
        _Float16 h;
        uint16_t bits = (uint16_t) i;
        memcpy(&h, &bits, 2);
        float x = (float) h;
        if (!isfinite(x) || fabsf(x) >= 10) continue;
        entries++;
        uint16_t r = ggml_table_gelu_f16[i];
        uint8_t bytes[2] = { (uint8_t) (r & 0xFF), (uint8_t) (r >> 8) };
        for (int b = 0; b < 2; b++) hash = (hash ^ bytes[b]) * 0x100000001b3ULL;
    }
    printf("%d entries, FNV-1a 0x%016llx\n", entries, (unsigned long long) hash);
    return 0;
}
