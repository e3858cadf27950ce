/*
 * gotrace_plugin.h — the C ABI between `gotrace report` (the host) and analyzer plugins.
 *
 * Design note
 * -----------
 * A plugin is a shared library that exports ONE entry symbol per ABI major version it speaks:
 * `gotrace_plugin_v1` for this header. The entry returns a static descriptor: ABI version, name,
 * version, description, the options it takes, and four callbacks. The host:
 *   1. dlopen()s the library (RTLD_NOW | RTLD_LOCAL) and looks the entry up; a library that only
 *      exports `gotrace_plugin_v2` (or later) is reported as "built for ABI 2" and skipped.
 *   2. checks `abi_major == GOTRACE_PLUGIN_ABI_MAJOR` and `struct_size`, then calls `create` once per
 *      report with its host function table (`gotrace_host_api`) and an opaque host handle.
 *   3. streams the whole trace through `consume` in batches: decoded events in time order, plus the
 *      goroutine state transitions the host derived from them (so plugins share one state machine).
 *   4. calls `finish`, during which the plugin writes its results through the host (text, JSON, files),
 *      then `destroy`. Libraries are never dlclose()d: a Swift plugin cannot be unloaded safely.
 *
 * Rules that keep the boundary boring:
 *   - Nothing unwinds across it. Every callback returns a `gotrace_status`; on failure the plugin first
 *     records why with `api->fail` (innermost cause first, outer context after), and the CLI prints the
 *     chain as "error: <outermost>" followed by "caused by: <inner>" lines.
 *   - Everything the host hands out (event batches, stacks, strings, symbol names) is owned by the host.
 *     Batches are valid during the `consume` call only; stacks, strings and symbols until `destroy`.
 *   - Compatibility: within one ABI major, structs only grow at the end. The host sets `struct_size` in
 *     every struct it passes; a plugin checks it before touching a field added in a later minor version.
 *     A change that breaks this rule bumps the major and renames the entry symbol.
 *   - Host and plugin must be built by the same compiler if either side is Swift (Swift has no stable
 *     ABI on Linux); the C surface itself is stable.
 */
#ifndef GOTRACE_PLUGIN_H
#define GOTRACE_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GOTRACE_PLUGIN_ABI_MAJOR 1
#define GOTRACE_PLUGIN_ABI_MINOR 2
/* The entry symbol's name for this major version, for dlsym and for plugin authors. */
#define GOTRACE_PLUGIN_ENTRY_SYMBOL "gotrace_plugin_v1"

/* ---- Status codes ------------------------------------------------------------------------------ */

typedef int32_t gotrace_status;
enum {
    GOTRACE_OK = 0,
    GOTRACE_ERROR_INVALID_ARGUMENT = 1, /* a bad option value, a malformed JSON document, ... */
    GOTRACE_ERROR_NOT_FOUND = 2,        /* an unknown stack, string, goroutine or kind */
    GOTRACE_ERROR_IO = 3,               /* writing an output failed */
    GOTRACE_ERROR_UNSUPPORTED = 4,      /* e.g. write_file without an output directory */
    GOTRACE_ERROR_OUT_OF_MEMORY = 5,
    GOTRACE_ERROR_INTERNAL = 6          /* a bug in the plugin or the host */
};

/* ---- Events ------------------------------------------------------------------------------------ */

/* Values of `gotrace_event.goroutine` / `.proc` when the event concerns none. */
#define GOTRACE_NONE UINT64_MAX
/* Arguments beyond this many are not carried in the event (no built-in kind has more). */
#define GOTRACE_MAX_EVENT_ARGUMENTS 6

/* One decoded event. `kind` is the wire code of docs/trace-format.md (EventKind in GoTrace): e.g.
 * 16 spawn, 17 start, 18 park, 19 unpark, 20 end, 22 preempt, 27/28 syscall enter/exit. Arguments are in
 * kind-table order; list and byte-string arguments (stack and string definitions) are carried as 0 —
 * ask the host with `stack` / `string` instead. Use `kind_code` / `argument_index` to find kinds and
 * arguments a newer trace format added, by name. */
typedef struct gotrace_event {
    uint8_t kind;
    uint8_t argument_count; /* how many of `arguments` are meaningful */
    uint16_t reserved0;
    uint32_t reserved1;
    uint64_t time_ns;   /* since the start of the trace */
    uint64_t machine;   /* the M that recorded it */
    uint64_t proc;      /* its P argument, else the P its M held; GOTRACE_NONE if unknown */
    uint64_t goroutine; /* its first goroutine argument, else the goroutine running on its M, else NONE */
    uint64_t arguments[GOTRACE_MAX_EVENT_ARGUMENTS];
} gotrace_event;

/* Goroutine states of the host's model. */
typedef enum gotrace_goroutine_state {
    GOTRACE_G_UNKNOWN = 0,  /* before the goroutine's first event */
    GOTRACE_G_RUNNABLE = 1, /* spawned, woken or preempted; waiting for a P */
    GOTRACE_G_RUNNING = 2,
    GOTRACE_G_WAITING = 3,  /* parked; `reason` says on what */
    GOTRACE_G_SYSCALL = 4,
    GOTRACE_G_DEAD = 5
} gotrace_goroutine_state;

/* A change of one goroutine's state, derived by the host from one event (`event_index` in the batch). */
typedef struct gotrace_transition {
    uint64_t time_ns;
    uint64_t goroutine;
    uint8_t from;    /* gotrace_goroutine_state */
    uint8_t to;      /* gotrace_goroutine_state */
    uint8_t reason;  /* park reason (ParkReason wire code) when `to` or `from` is WAITING, else 0 */
    uint8_t reserved0;
    uint32_t event_index;
    uint64_t stack_id;       /* stack of the spawn, park, unpark or syscall; 0 if none */
    uint64_t other;          /* parent on spawn, waker on unpark; GOTRACE_NONE otherwise */
    uint64_t since_ns;       /* when the goroutine entered `from` (GOTRACE_NONE if unknown) */
    uint64_t creation_stack; /* stack id of the goroutine's spawn; 0 if unknown */
} gotrace_transition;

typedef struct gotrace_batch {
    uint32_t struct_size;
    uint32_t reserved0;
    const gotrace_event *events;
    size_t event_count;
    const gotrace_transition *transitions;
    size_t transition_count;
    /* ---- ABI 1.2 (check struct_size covers it) ---- */
    /* One per transition: the stack recorded when the goroutine entered `from` — the park stack when `from`
       is WAITING, the system call's when SYSCALL; 0 otherwise. Plugins need not keep their own copy of
       "where each waiting goroutine parked". */
    const uint64_t *transition_from_stacks;
} gotrace_batch;

/* What the host knows about one goroutine, at the time of asking. */
typedef struct gotrace_goroutine_info {
    uint32_t struct_size;
    uint8_t state;  /* gotrace_goroutine_state */
    uint8_t reason; /* park reason when WAITING */
    uint16_t reserved0;
    uint64_t id;
    uint64_t parent;         /* GOTRACE_NONE if unknown */
    uint64_t created_ns;     /* GOTRACE_NONE if it existed before the trace started */
    uint64_t state_since_ns; /* when it entered `state`; before the trace's start (negative as int64_t) for a
                                goroutine waiting since before a flight-recorder window */
    uint64_t creation_stack; /* 0 if unknown */
    uint64_t state_stack;    /* stack of the park or syscall that put it in `state`; 0 if none */
    uint64_t label;          /* string id of its label; 0 if none */
} gotrace_goroutine_info;

typedef struct gotrace_trace_info {
    uint32_t struct_size;
    uint32_t complete; /* 1 if the writer finished the trace (end chunk present) */
    uint64_t events;   /* events read so far (all of them once `finish` is called) */
    uint64_t end_ns;   /* time of the last event read so far */
    int64_t start_wall_ns;
    const char *path;  /* the trace file */
} gotrace_trace_info;

enum { GOTRACE_FORMAT_TEXT = 0, GOTRACE_FORMAT_JSON = 1 };

/* One stack frame, resolved for profiles (ABI 1.1). `address` is the return address as found in the stack;
 * the symbol is that of `address - 1`, the call instruction. Strings belong to the host (NULL if unknown). */
typedef struct gotrace_frame {
    uint32_t struct_size;
    uint32_t line;            /* source line, 0 if unknown */
    uint64_t address;
    const char *function;     /* demangled name; NULL if the address has no symbol */
    const char *module;       /* module path; NULL outside every module */
    const char *build_id;     /* GNU build id in hex; NULL if unknown */
    const char *file;         /* source file; NULL if unknown */
    uint64_t function_offset; /* address - symbol start */
    uint64_t module_offset;   /* address - load bias: what `addr2line -e module` takes */
    uint64_t module_start;    /* lowest and highest mapped address of the module (0 if none) */
    uint64_t module_limit;
} gotrace_frame;

/* ---- The host, as seen by a plugin ------------------------------------------------------------ */

typedef struct gotrace_host gotrace_host; /* opaque; one per plugin instance */

typedef void (*gotrace_goroutine_visitor)(void *context, const gotrace_goroutine_info *info);

typedef struct gotrace_host_api {
    uint32_t struct_size;
    uint32_t abi_minor;

    /* Look-ups. Returned memory belongs to the host and lives until `destroy`. */
    gotrace_status (*stack)(gotrace_host *host, uint64_t stack_id, const uint64_t **pcs, size_t *count);
    gotrace_status (*string)(gotrace_host *host, uint64_t string_id, const char **utf8, size_t *length);
    /* "function + 0x12 (module)" when symbols are available, else "module+0xoffset", else "0xpc". */
    const char *(*symbolize)(gotrace_host *host, uint64_t pc);
    gotrace_status (*goroutine)(gotrace_host *host, uint64_t goroutine, gotrace_goroutine_info *info);
    /* Visits every goroutine not yet dead, in ascending id order. */
    void (*for_each_goroutine)(gotrace_host *host, gotrace_goroutine_visitor visitor, void *context);
    void (*trace_info)(gotrace_host *host, gotrace_trace_info *info);
    /* The wire code of the kind named `name` in this trace, or -1; the index of argument `argument` of
     * kind `kind`, or -1. Lets a plugin use kinds and arguments newer than itself. */
    int32_t (*kind_code)(gotrace_host *host, const char *name);
    int32_t (*argument_index)(gotrace_host *host, uint8_t kind, const char *argument);
    const char *(*kind_name)(gotrace_host *host, uint8_t kind);

    /* Options given as --option NAME.KEY=VALUE (NAME the plugin's name); NULL if not given. */
    const char *(*option)(gotrace_host *host, const char *key);
    /* GOTRACE_FORMAT_TEXT or GOTRACE_FORMAT_JSON: what `write_text` / `write_json` output is wanted. */
    int32_t (*output_format)(gotrace_host *host);
    /* 1 if an output directory was given (-o DIR), so `write_file` can succeed. */
    int32_t (*has_output_directory)(gotrace_host *host);

    /* Output. Text is appended to the plugin's section of the report; JSON must be one complete value
     * (the plugin's document; call once); files land in the output directory under `name` (a plain file
     * name, no '/'). */
    gotrace_status (*write_text)(gotrace_host *host, const char *utf8, size_t length);
    gotrace_status (*write_json)(gotrace_host *host, const char *utf8, size_t length);
    gotrace_status (*write_file)(gotrace_host *host, const char *name, const void *bytes, size_t length);

    /* A named number the CLI may act on, e.g. the leak analyzer's "leaked" count (--fail-on-leak). */
    void (*set_metric)(gotrace_host *host, const char *key, int64_t value);

    /* Records one link of the error chain for the failure the plugin is about to return. Call it for the
     * innermost cause first, then for each enclosing context. Returns `code` for convenience. When the host
     * refuses a write_json, write_file or append_file, its reason becomes the innermost cause if the plugin
     * fails straight after (its next host call is `fail`, or it returns the failure); otherwise it is dropped. */
    gotrace_status (*fail)(gotrace_host *host, gotrace_status code, const char *message);

    /* ---- ABI 1.1 (check struct_size covers a field before calling it) ---- */
    /* Resolves `pc` (a return address from a stack) into `frame`; GOTRACE_OK even for unknown addresses. */
    gotrace_status (*frame)(gotrace_host *host, uint64_t pc, gotrace_frame *frame);
    /* Like write_file, for output too large to hold at once: the first call for `name` creates (truncates) the
     * file, later calls append to it. */
    gotrace_status (*append_file)(gotrace_host *host, const char *name, const void *bytes, size_t length);
} gotrace_host_api;

/* ---- The plugin, as seen by the host ----------------------------------------------------------- */

typedef struct gotrace_option_spec {
    const char *key;           /* e.g. "min-count" (passed as --option leak.min-count=2) */
    const char *help;
    const char *default_value; /* may be NULL */
} gotrace_option_spec;

typedef struct gotrace_plugin_descriptor {
    uint32_t struct_size; /* sizeof(gotrace_plugin_descriptor) as the plugin was compiled */
    uint32_t abi_major;   /* GOTRACE_PLUGIN_ABI_MAJOR */
    uint32_t abi_minor;   /* GOTRACE_PLUGIN_ABI_MINOR */
    uint32_t reserved0;
    const char *name;        /* short, unique: "leak" — used with --analyzer */
    const char *version;     /* the plugin's own version, e.g. "1.0.0" */
    const char *description; /* one line */
    const gotrace_option_spec *options;
    size_t option_count;
    void *context; /* passed back to `create` untouched */

    /* Makes one analysis instance. `api` and `host` stay valid until `destroy`. */
    gotrace_status (*create)(void *context, const gotrace_host_api *api, gotrace_host *host, void **instance);
    gotrace_status (*consume)(void *instance, const gotrace_batch *batch);
    /* End of trace: write results now. */
    gotrace_status (*finish)(void *instance);
    void (*destroy)(void *instance);
} gotrace_plugin_descriptor;

/* The entry point every v1 plugin exports. */
typedef const gotrace_plugin_descriptor *(*gotrace_plugin_entry_v1)(void);

/* Prints a status code's name ("invalid argument"). */
static inline const char *gotrace_status_name(gotrace_status status) {
    switch (status) {
    case GOTRACE_OK: return "ok";
    case GOTRACE_ERROR_INVALID_ARGUMENT: return "invalid argument";
    case GOTRACE_ERROR_NOT_FOUND: return "not found";
    case GOTRACE_ERROR_IO: return "I/O error";
    case GOTRACE_ERROR_UNSUPPORTED: return "unsupported";
    case GOTRACE_ERROR_OUT_OF_MEMORY: return "out of memory";
    case GOTRACE_ERROR_INTERNAL: return "internal error";
    default: return "unknown status";
    }
}

#ifdef __cplusplus
}
#endif
#endif /* GOTRACE_PLUGIN_H */
