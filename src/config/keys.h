/* The core key table and the prose of the docs (private to src/config). */
#ifndef GS_CONFIG_KEYS_H
#define GS_CONFIG_KEYS_H

#include <stddef.h>

#include "govstream/config.h"

extern const gs_config_key_t gs_config_core_keys[];
extern const size_t gs_config_n_core_keys;
extern const char gs_config_doc_intro[], gs_config_doc_rules[];

#endif
