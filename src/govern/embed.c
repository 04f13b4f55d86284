/* Text embedding (SPEC 3.4): signed feature hashing of lower-cased word
 * unigrams and bigrams (words as in text.h) into GS_EMBED_DIM floats,
 * then L2 normalisation. Deterministic across machines: FNV-1a 64 of the
 * bytes picks the dimension and the top bit the sign. */
#include <math.h>
#include <string.h>

#include "govstream/memory.h"
#include "govstream/text.h"

#define FNV_OFFSET 14695981039346656037ull
#define FNV_PRIME  1099511628211ull

static uint64_t fnv_lower(uint64_t h, const unsigned char *w, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned c = w[i];
        if (c >= 'A' && c <= 'Z')
            c |= 0x20;
        h = (h ^ c) * FNV_PRIME;
    }
    return h;
}

static void add_feature(float *out, uint64_t h)
{
    out[h % GS_EMBED_DIM] += (h >> 63) ? -1.0f : 1.0f;
}

float gs_embed(const gs_str_t *texts, size_t n_texts, float *out)
{
    memset(out, 0, GS_EMBED_DIM * sizeof(float));
    for (size_t t = 0; t < n_texts; t++) {
        const unsigned char *p = (const unsigned char *)texts[t].p, *end = p + texts[t].len, *w;
        size_t len;
        uint64_t prev = 0; /* hash of the previous word in this text, 0: none */
        while (gs_next_word(&p, end, &w, &len)) {
            uint64_t h = fnv_lower(FNV_OFFSET, w, len);
            add_feature(out, h);
            if (prev) /* bigram: previous word, a separator byte, this word */
                add_feature(out, fnv_lower((prev ^ 0x1F) * FNV_PRIME, w, len));
            prev = h;
        }
    }
    double sum = 0;
    for (size_t i = 0; i < GS_EMBED_DIM; i++)
        sum += (double)out[i] * out[i];
    if (sum == 0)
        return 0.0f;
    float norm = (float)sqrt(sum), inv = 1.0f / norm;
    for (size_t i = 0; i < GS_EMBED_DIM; i++)
        out[i] *= inv;
    return norm;
}
