// Function names for the runtime's own diagnostics: the debug server's pprof profiles and the goroutine
// dumps (GoRuntime/RuntimeSymbols.swift), which must name frames without the analysis side (GoSymbolize,
// libelf) — a program that imports GoRuntime links none of that.
//
// Design note
// -----------
// The main executable's functions come from its ELF `.symtab` (`/proc/self/exe`), read once on the first
// look-up: the function symbols, sorted by address, with their names copied into one block, so the
// file's mapping is dropped at once. Swift executables export almost nothing dynamically, so `dladdr`
// alone would name none of the program's own functions; it still answers for shared libraries (libc,
// libswiftCore), whose exported symbols are what their frames need. No DWARF here: file and line come
// from GoDWARF (RuntimeSymbols.swift), which keeps this reader at one section and one table.
// preempt.c reads the same section (both map it through elf_symtab.c) for a different question (which code
// is safe to interrupt) and keeps
// only classified ranges; sharing one table would make the preemption handler's look-up depend on names
// it never uses. Thread safety: the table is built once under a pthread once-control and never changes.
#define _GNU_SOURCE 1
#include "CGoRuntime.h"
#include "elf_symtab.h"
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    uintptr_t start;
    uintptr_t end;
    uint32_t name;  // offset into `names`
} function_symbol_t;

static function_symbol_t *functions = NULL;
static size_t function_count = 0;
static char *names = NULL;
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static int compare_symbols(const void *a, const void *b) {
    const function_symbol_t *left = a, *right = b;
    return left->start < right->start ? -1 : left->start > right->start;
}

static void build_function_table(void) {
    gort_elf_symtab elf;
    if (!gort_elf_symtab_open(&elf)) return;
    function_symbol_t *table = malloc((elf.symbol_count + 1) * sizeof *table);
    // The whole string table (NUL-terminated at its end: gort_elf_symtab_open checks), kept after the unmap.
    char *copy = malloc(elf.strings_size);
    if (table == NULL || copy == NULL) {
        free(table);
        free(copy);
        gort_elf_symtab_close(&elf);
        return;
    }
    memcpy(copy, elf.strings, elf.strings_size);
    size_t count = 0;
    for (size_t index = 0; index < elf.symbol_count; index++) {
        const Elf64_Sym *symbol = &elf.symbols[index];
        if (!gort_elf_symtab_is_function(&elf, symbol)) continue;
        table[count].start = elf.bias + symbol->st_value;
        table[count].end = elf.bias + symbol->st_value + symbol->st_size;
        table[count].name = symbol->st_name;
        count++;
    }
    qsort(table, count, sizeof *table, compare_symbols);
    functions = table;
    function_count = count;
    names = copy;
    gort_elf_symtab_close(&elf);
}

bool gort_symbolize(uintptr_t pc, gort_symbol_t *out) {
    pthread_once(&table_once, build_function_table);
    memset(out, 0, sizeof *out);
    // The last function that starts at or below pc; it must also end above it.
    size_t low = 0, high = function_count;
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        if (functions[middle].start <= pc) low = middle + 1; else high = middle;
    }
    Dl_info info;
    struct link_map *map = NULL;
    bool found_module = dladdr1((void *)pc, &info, (void **)&map, RTLD_DL_LINKMAP) != 0;
    if (found_module) {
        out->module_path = info.dli_fname;
        out->module_base = (uintptr_t)info.dli_fbase;
        // The link map's l_addr is the bias; dli_fbase is where the first segment sits, the same only for
        // images linked at 0 (PIE, shared libraries).
        out->module_bias = map != NULL ? (uintptr_t)map->l_addr : (uintptr_t)info.dli_fbase;
    }
    if (low > 0 && pc < functions[low - 1].end) {
        out->name = names + functions[low - 1].name;
        out->start = functions[low - 1].start;
        return true;
    }
    if (found_module && info.dli_sname != NULL) {
        out->name = info.dli_sname;
        out->start = (uintptr_t)info.dli_saddr;
        return true;
    }
    return found_module;
}

uintptr_t gort_caller_of_caller_pc(void) {
    // This function's frame, then its caller's (which keeps a frame pointer: Swift and SwiftPM's C both
    // do), whose return address is in the caller's caller.
    void **frame = __builtin_frame_address(0);
    void **caller_frame = frame[0];
    return caller_frame == NULL ? 0 : (uintptr_t)caller_frame[1];
}
