/*
 * abi-probe: a test plugin in C that calls every function of the host table and writes what came back as
 * "key: value" lines, which PluginABITests compares with the answers its synthetic trace was built with.
 * Built by the tests with cc (as Plugins/EventCount is), in variants chosen by -D switches:
 *
 *   PROBE_NAME="..."        the plugin's name, so that several variants can run in one report
 *   PROBE_FAIL_IN_CONSUME   fail on the first batch, with a two-link error chain
 *   PROBE_FAIL_IN_FINISH    write some text, then fail in finish, with a two-link error chain
 *   PROBE_ABI_1_0           as built against ABI 1.0: it says minor 0, never touches the 1.1 table entries
 *                           or the 1.2 batch field
 *                           (frame, append_file), and hands the host goroutine and trace-info structs cut short
 *                           (as if their last field were newer than the plugin): the host must not write past them
 *   PROBE_ABI_FUTURE        as built against an imagined ABI 1.3: its descriptor and the structs it hands the host
 *                           have one more trailing field, and it looks for a table entry this host lacks
 *   PROBE_SHORT_DESCRIPTOR  a descriptor whose struct_size is smaller than ABI 1 needs: the host must refuse it
 *   PROBE_FAIL_ON_REFUSAL=1 finish starts with a write_file the host refuses (no -o) and fails at once, adding
 *                           its own context with `fail`; =2: returns the refused status as it is
 *
 * The header's compatibility rule is what the variants check: structs grow only at the end, the host sets
 * struct_size in what it passes and honours the plugin's struct_size in what it fills.
 */
#include <gotrace_plugin.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef PROBE_NAME
#define PROBE_NAME "abi-probe"
#endif

/* Written after a struct the host fills; must survive the call untouched. */
#define SENTINEL 0x5E57135E57135E57ull

typedef struct probe {
    const gotrace_host_api *api;
    gotrace_host *host;
    char text[16384];
    size_t used;
    uint64_t events, transitions, batches;
    int saw_park;
} probe;

__attribute__((format(printf, 2, 3))) static void line(probe *p, const char *format, ...) {
    va_list arguments;
    va_start(arguments, format);
    int n = vsnprintf(p->text + p->used, sizeof p->text - p->used, format, arguments);
    va_end(arguments);
    if (n > 0 && (size_t)n < sizeof p->text - p->used) p->used += (size_t)n;
    if (p->used < sizeof p->text - 1) p->text[p->used++] = '\n';
}

/* Whether the host's table is large enough to hold the entry that ends at `end` bytes. */
static int table_has(const gotrace_host_api *api, size_t end) { return api->struct_size >= end; }
#define HAS_ENTRY(api, field) table_has(api, offsetof(gotrace_host_api, field) + sizeof((api)->field))

#ifdef PROBE_ABI_FUTURE
/* ABI 1.3 as this plugin imagines it: one more table entry, one more field at the end of each struct. */
typedef struct future_host_api {
    gotrace_host_api known;
    gotrace_status (*future_call)(gotrace_host *host);
} future_host_api;
typedef struct future_goroutine_info {
    gotrace_goroutine_info known;
    uint64_t future_field;
} future_goroutine_info;
typedef struct future_trace_info {
    gotrace_trace_info known;
    uint64_t future_field;
} future_trace_info;
typedef struct future_frame {
    gotrace_frame known;
    uint64_t future_field;
} future_frame;
#endif

static gotrace_status create(void *context, const gotrace_host_api *api, gotrace_host *host, void **instance) {
    (void)context;
    probe *p = calloc(1, sizeof *p);
    if (p == NULL) return api->fail(host, GOTRACE_ERROR_OUT_OF_MEMORY, PROBE_NAME ": out of memory");
    p->api = api;
    p->host = host;
    *instance = p;
    line(p, "api.abi_minor: %u", api->abi_minor);
    line(p, "api.covers_1_1: %s", HAS_ENTRY(api, append_file) ? "yes" : "no");
#ifdef PROBE_ABI_FUTURE
    line(p, "api.future_call: %s",
         table_has(api, offsetof(future_host_api, future_call) + sizeof(void *)) ? "present" : "absent");
#endif
    const char *greeting = api->option(host, "greeting");
    line(p, "option.greeting: %s", greeting ? greeting : "(null)");
    line(p, "option.absent: %s", api->option(host, "absent") ? "set" : "(null)");
    line(p, "kind_code.spawn: %d", api->kind_code(host, "spawn"));
    line(p, "kind_code.unknown: %d", api->kind_code(host, "no-such-kind"));
    int32_t park = api->kind_code(host, "park");
    line(p, "argument_index.park.reason: %d", api->argument_index(host, (uint8_t)park, "reason"));
    line(p, "argument_index.park.unknown: %d", api->argument_index(host, (uint8_t)park, "no-such-argument"));
    line(p, "kind_name.16: %s", api->kind_name(host, 16));
    line(p, "output_format: %d", api->output_format(host));
    line(p, "has_output_directory: %d", api->has_output_directory(host));
    return GOTRACE_OK;
}

static gotrace_status consume(void *instance, const gotrace_batch *batch) {
    probe *p = instance;
    p->batches++;
#ifdef PROBE_FAIL_IN_CONSUME
    p->api->fail(p->host, GOTRACE_ERROR_INVALID_ARGUMENT, "the probe was built to fail in consume");
    return p->api->fail(p->host, GOTRACE_ERROR_INVALID_ARGUMENT, PROBE_NAME " gave up on batch 1");
#endif
#ifndef PROBE_ABI_1_0
    if (p->batches == 1) {
        /* ABI 1.2: each transition's from-stack, where the host's batch is large enough to carry it. */
        int covers = batch->struct_size >= offsetof(gotrace_batch, transition_from_stacks) + sizeof(const uint64_t *);
        line(p, "batch.covers_1_2: %s", covers ? "yes" : "no");
    }
#endif
    p->events += batch->event_count;
    p->transitions += batch->transition_count;
    for (size_t i = 0; i < batch->transition_count; i++) {
        const gotrace_transition *t = &batch->transitions[i];
        if (t->to != GOTRACE_G_WAITING || p->saw_park) continue;
        p->saw_park = 1;
        const gotrace_event *event = &batch->events[t->event_index];
        line(p, "park.transition: g%llu %u->%u reason %u stack %llu creation_stack %llu at %llu since %llu",
             (unsigned long long)t->goroutine, t->from, t->to, t->reason, (unsigned long long)t->stack_id,
             (unsigned long long)t->creation_stack, (unsigned long long)t->time_ns, (unsigned long long)t->since_ns);
#ifndef PROBE_ABI_1_0
        if (batch->struct_size >= offsetof(gotrace_batch, transition_from_stacks) + sizeof(const uint64_t *)) {
            size_t index = (size_t)(t - batch->transitions);
            line(p, "park.from_stack: %llu", (unsigned long long)batch->transition_from_stacks[index]);
        }
#endif
        line(p, "park.event: kind %u goroutine %llu arguments %u: %llu %llu %llu", event->kind,
             (unsigned long long)event->goroutine, event->argument_count, (unsigned long long)event->arguments[0],
             (unsigned long long)event->arguments[1], (unsigned long long)event->arguments[2]);
    }
    return GOTRACE_OK;
}

static void visit(void *context, const gotrace_goroutine_info *info) {
    probe *p = context;
    line(p, "live: g%llu state %u", (unsigned long long)info->id, info->state);
}

static void probe_stack(probe *p, uint64_t id) {
    const uint64_t *pcs = NULL;
    size_t count = 99;
    gotrace_status status = p->api->stack(p->host, id, &pcs, &count);
    char text[256] = "";
    size_t used = 0;
    for (size_t i = 0; i < count && used < sizeof text - 24; i++)
        used += (size_t)snprintf(text + used, sizeof text - used, " 0x%llx", (unsigned long long)pcs[i]);
    line(p, "stack.%llu: status %d count %zu:%s", (unsigned long long)id, status, count, text);
}

static void probe_string(probe *p, uint64_t id) {
    const char *text = NULL;
    size_t length = 99;
    gotrace_status status = p->api->string(p->host, id, &text, &length);
    line(p, "string.%llu: status %d length %zu \"%s\"", (unsigned long long)id, status, status == GOTRACE_OK ? length : 0,
         status == GOTRACE_OK ? text : "");
}

static void probe_goroutine(probe *p, uint64_t id) {
    /* `after`: the plugin's memory just past what it told the host it has; NULL when there is none to check. */
#if defined(PROBE_ABI_1_0)
    /* Cut before `label`, with the sentinel where `label` would be. */
    gotrace_goroutine_info made;
    memset(&made, 0, sizeof made);
    made.struct_size = (uint32_t)offsetof(gotrace_goroutine_info, label);
    made.label = SENTINEL;
    gotrace_goroutine_info *info = &made;
    const uint64_t *after = &made.label;
#elif defined(PROBE_ABI_FUTURE)
    future_goroutine_info future;
    memset(&future, 0, sizeof future);
    future.known.struct_size = (uint32_t)sizeof future;
    future.future_field = SENTINEL;
    gotrace_goroutine_info *info = &future.known;
    const uint64_t *after = &future.future_field;
#else
    gotrace_goroutine_info made;
    memset(&made, 0, sizeof made);
    made.struct_size = (uint32_t)sizeof made;
    gotrace_goroutine_info *info = &made;
    const uint64_t *after = NULL;
#endif
    gotrace_status status = p->api->goroutine(p->host, id, info);
    if (status != GOTRACE_OK) {
        line(p, "goroutine.%llu: status %d", (unsigned long long)id, status);
    } else {
        line(p, "goroutine.%llu: status 0 state %u reason %u parent %llu created %llu since %llu creation_stack %llu "
                "state_stack %llu",
             (unsigned long long)id, info->state, info->reason, (unsigned long long)info->parent,
             (unsigned long long)info->created_ns, (unsigned long long)info->state_since_ns,
             (unsigned long long)info->creation_stack, (unsigned long long)info->state_stack);
#if !defined(PROBE_ABI_1_0)
        line(p, "goroutine.%llu.label: %llu", (unsigned long long)id, (unsigned long long)info->label);
#endif
        line(p, "goroutine.%llu.struct_size: %u", (unsigned long long)id, info->struct_size);
    }
    if (after) line(p, "goroutine.%llu.after: %s", (unsigned long long)id, *after == SENTINEL ? "intact" : "overwritten");
}

static void probe_frame(probe *p, uint64_t pc) {
#ifdef PROBE_ABI_1_0
    (void)pc;
    (void)p; /* ABI 1.0 had no frame entry. */
#else
    if (!HAS_ENTRY(p->api, frame)) {
        line(p, "frame: absent");
        return;
    }
#ifdef PROBE_ABI_FUTURE
    future_frame future;
    memset(&future, 0, sizeof future);
    future.known.struct_size = (uint32_t)sizeof future;
    future.future_field = SENTINEL;
    gotrace_frame *frame = &future.known;
#else
    gotrace_frame made;
    memset(&made, 0, sizeof made);
    made.struct_size = (uint32_t)sizeof made;
    gotrace_frame *frame = &made;
#endif
    gotrace_status status = p->api->frame(p->host, pc, frame);
    const char *module = frame->module ? strrchr(frame->module, '/') : NULL;
    line(p, "frame.0x%llx: status %d address 0x%llx function %s offset 0x%llx module %s module_offset 0x%llx line %u file %s",
         (unsigned long long)pc, status, (unsigned long long)frame->address, frame->function ? frame->function : "(null)",
         (unsigned long long)frame->function_offset, module ? module + 1 : "(null)",
         (unsigned long long)frame->module_offset, frame->line, frame->file ? frame->file : "(null)");
    line(p, "frame.0x%llx.module_range: %s", (unsigned long long)pc,
         frame->module_start < frame->module_limit && frame->module_start <= pc && pc <= frame->module_limit ? "covers pc"
         : frame->module_start == 0 && frame->module_limit == 0                                             ? "none"
                                                                                                             : "wrong");
#ifdef PROBE_ABI_FUTURE
    line(p, "frame.0x%llx.after: %s", (unsigned long long)pc, future.future_field == SENTINEL ? "intact" : "overwritten");
#endif
#endif
}

static void probe_trace_info(probe *p) {
#if defined(PROBE_ABI_1_0)
    gotrace_trace_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = (uint32_t)offsetof(gotrace_trace_info, path);
    info.path = (const char *)SENTINEL;
    p->api->trace_info(p->host, &info);
    int intact = info.path == (const char *)SENTINEL;
    line(p, "trace_info: events %llu complete %u end_ns %llu struct_size %u", (unsigned long long)info.events, info.complete,
         (unsigned long long)info.end_ns, info.struct_size);
    line(p, "trace_info.after: %s", intact ? "intact" : "overwritten");
#else
#ifdef PROBE_ABI_FUTURE
    future_trace_info future;
    memset(&future, 0, sizeof future);
    future.known.struct_size = (uint32_t)sizeof future;
    future.future_field = SENTINEL;
    gotrace_trace_info *info = &future.known;
#else
    gotrace_trace_info made;
    memset(&made, 0, sizeof made);
    made.struct_size = (uint32_t)sizeof made;
    gotrace_trace_info *info = &made;
#endif
    p->api->trace_info(p->host, info);
    const char *base = info->path ? strrchr(info->path, '/') : NULL;
    line(p, "trace_info: events %llu complete %u end_ns %llu struct_size %u", (unsigned long long)info->events, info->complete,
         (unsigned long long)info->end_ns, info->struct_size);
    line(p, "trace_info.path_suffix: %s", base && strstr(base, ".gtrace") ? ".gtrace" : "(wrong)");
#ifdef PROBE_ABI_FUTURE
    line(p, "trace_info.after: %s", future.future_field == SENTINEL ? "intact" : "overwritten");
#endif
#endif
}

static gotrace_status finish(void *instance) {
    probe *p = instance;
    const gotrace_host_api *api = p->api;
#ifdef PROBE_FAIL_ON_REFUSAL
    gotrace_status refused = api->write_file(p->host, PROBE_NAME ".txt", "x", 1);
#if PROBE_FAIL_ON_REFUSAL == 1
    return api->fail(p->host, refused, PROBE_NAME " could not save its results");
#else
    return refused;
#endif
#endif
    line(p, "consumed: events %llu transitions %llu", (unsigned long long)p->events, (unsigned long long)p->transitions);
    probe_stack(p, 1);
    probe_stack(p, 2);
    probe_stack(p, 99);
    probe_string(p, 5);
    probe_string(p, 0);
    probe_string(p, 99);
    const char *module_pc_text = api->option(p->host, "module-pc");
    uint64_t module_pc = module_pc_text ? strtoull(module_pc_text, NULL, 0) : 0;
    line(p, "symbolize.0x1000: %s", api->symbolize(p->host, 0x1000));
    line(p, "symbolize.module_pc: %s", module_pc ? api->symbolize(p->host, module_pc) : "(no module-pc option)");
    probe_frame(p, 0x1000);
    if (module_pc) probe_frame(p, module_pc);
    probe_goroutine(p, 10);
    probe_goroutine(p, 11);
    probe_goroutine(p, 12345);
    api->for_each_goroutine(p->host, visit, p);
    probe_trace_info(p);
    static const char body[] = "written by " PROBE_NAME "\n";
    line(p, "write_file: %d", api->write_file(p->host, PROBE_NAME ".txt", body, sizeof body - 1));
    line(p, "write_file.slash: %d", api->write_file(p->host, "a/b.txt", body, sizeof body - 1));
#ifndef PROBE_ABI_1_0
    if (HAS_ENTRY(api, append_file)) {
        gotrace_status first = api->append_file(p->host, PROBE_NAME "-log.txt", "one\n", 4);
        gotrace_status second = api->append_file(p->host, PROBE_NAME "-log.txt", "two\n", 4);
        line(p, "append_file: %d %d", first, second);
    }
#endif
    if (api->output_format(p->host) == GOTRACE_FORMAT_JSON) {
        /* A malformed document is refused (and not kept), a good one taken, a second one refused. */
        char document[128];
        int n = snprintf(document, sizeof document, "{\"plugin\": \"%s\", \"events\": %llu}", PROBE_NAME,
                         (unsigned long long)p->events);
        gotrace_status malformed = api->write_json(p->host, "{\"plugin\": ", 11);
        gotrace_status first = api->write_json(p->host, document, (size_t)n);
        gotrace_status second = api->write_json(p->host, document, (size_t)n);
        line(p, "write_json: %d %d %d", malformed, first, second);
    }
    api->set_metric(p->host, "answer", 42);
    api->set_metric(p->host, "negative", -7);
#ifdef PROBE_FAIL_IN_FINISH
    api->write_text(p->host, "text written before the failure\n", 32);
    api->fail(p->host, GOTRACE_ERROR_IO, "the probe was built to fail in finish");
    return api->fail(p->host, GOTRACE_ERROR_IO, PROBE_NAME " could not write its results");
#endif
    return api->write_text(p->host, p->text, p->used);
}

static void destroy(void *instance) { free(instance); }

static const gotrace_option_spec options[] = {
    {"greeting", "a value echoed back, to test option()", "none"},
    {"module-pc", "an address in a module the trace names, to test symbolize() and frame()", NULL},
};

#ifdef PROBE_ABI_FUTURE
typedef struct future_descriptor {
    gotrace_plugin_descriptor known;
    uint64_t future_field;
} future_descriptor;
static const future_descriptor future = {
    .known = {
        .struct_size = sizeof(future_descriptor),
        .abi_major = GOTRACE_PLUGIN_ABI_MAJOR,
        .abi_minor = 3,
#else
static const gotrace_plugin_descriptor descriptor = {
#ifdef PROBE_SHORT_DESCRIPTOR
        .struct_size = offsetof(gotrace_plugin_descriptor, destroy),
#else
        .struct_size = sizeof(gotrace_plugin_descriptor),
#endif
        .abi_major = GOTRACE_PLUGIN_ABI_MAJOR,
#ifdef PROBE_ABI_1_0
        .abi_minor = 0,
#else
        .abi_minor = GOTRACE_PLUGIN_ABI_MINOR,
#endif
#endif
        .name = PROBE_NAME,
        .version = "0.0.1",
        .description = "calls every host function and writes what came back (a test fixture)",
        .options = options,
        .option_count = sizeof options / sizeof options[0],
        .create = create,
        .consume = consume,
        .finish = finish,
        .destroy = destroy,
#ifdef PROBE_ABI_FUTURE
    },
    .future_field = SENTINEL,
};
const gotrace_plugin_descriptor *gotrace_plugin_v1(void) { return &future.known; }
#else
};
const gotrace_plugin_descriptor *gotrace_plugin_v1(void) { return &descriptor; }
#endif
