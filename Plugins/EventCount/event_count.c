/*
 * event-count: a gotrace analyzer written in plain C — counts events per kind.
 *
 * The smallest complete plugin: it is the example in docs/plugins.md and the tests build it with
 *     cc -shared -fPIC -I Sources/CGoTracePlugin/include -o libEventCount.so Plugins/EventCount/event_count.c
 * It is not a SwiftPM product on purpose: it shows that a plugin needs only the header.
 * Set GOTRACE_EVENT_COUNT_ABI=2 at compile time (-DGOTRACE_EVENT_COUNT_ABI=2) to build a copy that claims a
 * future ABI, which the tests use to check that gotrace refuses it clearly.
 */
#include <gotrace_plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct counter {
    const gotrace_host_api *api;
    gotrace_host *host;
    uint64_t counts[256];
} counter;

static gotrace_status create(void *context, const gotrace_host_api *api, gotrace_host *host, void **instance) {
    (void)context;
    counter *state = calloc(1, sizeof *state);
    if (state == NULL) return api->fail(host, GOTRACE_ERROR_OUT_OF_MEMORY, "event-count: out of memory");
    state->api = api;
    state->host = host;
    *instance = state;
    return GOTRACE_OK;
}

static gotrace_status consume(void *instance, const gotrace_batch *batch) {
    counter *state = instance;
    for (size_t i = 0; i < batch->event_count; i++) state->counts[batch->events[i].kind]++;
    return GOTRACE_OK;
}

static gotrace_status finish(void *instance) {
    counter *state = instance;
    const gotrace_host_api *api = state->api;
    int json = api->output_format(state->host) == GOTRACE_FORMAT_JSON;
    char buffer[16384];
    size_t used = 0;
    used += (size_t)snprintf(buffer + used, sizeof buffer - used, json ? "{" : "");
    int first = 1;
    for (int kind = 0; kind < 256; kind++) {
        if (state->counts[kind] == 0) continue;
        const char *name = api->kind_name(state->host, (uint8_t)kind);
        used += (size_t)snprintf(buffer + used, sizeof buffer - used, json ? "%s\"%s\": %llu" : "%s%-16s %llu\n",
                                 json ? (first ? "" : ", ") : "", name, (unsigned long long)state->counts[kind]);
        first = 0;
        if (used >= sizeof buffer - 256) break;
    }
    if (json) {
        used += (size_t)snprintf(buffer + used, sizeof buffer - used, "}");
        return api->write_json(state->host, buffer, used);
    }
    return api->write_text(state->host, buffer, used);
}

static void destroy(void *instance) { free(instance); }

static const gotrace_plugin_descriptor descriptor = {
    .struct_size = sizeof(gotrace_plugin_descriptor),
#ifdef GOTRACE_EVENT_COUNT_ABI
    .abi_major = GOTRACE_EVENT_COUNT_ABI,
#else
    .abi_major = GOTRACE_PLUGIN_ABI_MAJOR,
#endif
    .abi_minor = GOTRACE_PLUGIN_ABI_MINOR,
    .name = "event-count",
    .version = "1.0.0",
    .description = "counts events per kind (an example plugin in C)",
    .create = create,
    .consume = consume,
    .finish = finish,
    .destroy = destroy,
};

#if defined(GOTRACE_EVENT_COUNT_ABI) && GOTRACE_EVENT_COUNT_ABI == 2
const gotrace_plugin_descriptor *gotrace_plugin_v2(void) { return &descriptor; }
#else
const gotrace_plugin_descriptor *gotrace_plugin_v1(void) { return &descriptor; }
#endif
