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
// preempt.c reads the same section for a different question (which code is safe to interrupt) and keeps
// only classified ranges; sharing one table would make the preemption handler's look-up depend on names
// it never uses. Thread safety: the table is built once under a pthread once-control and never changes.
#define _GNU_SOURCE 1
#include "CGoRuntime.h"
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

static int first_object_bias(struct dl_phdr_info *info, size_t size, void *out) {
    (void)size;
    // The first object dl_iterate_phdr reports is the main program.
    *(uintptr_t *)out = info->dlpi_addr;
    return 1;
}

static int compare_symbols(const void *a, const void *b) {
    const function_symbol_t *left = a, *right = b;
    return left->start < right->start ? -1 : left->start > right->start;
}

static void build_function_table(void) {
    uintptr_t bias = 0;
    dl_iterate_phdr(first_object_bias, &bias);
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    struct stat info;
    if (fstat(fd, &info) != 0 || (size_t)info.st_size < sizeof(Elf64_Ehdr)) {
        close(fd);
        return;
    }
    size_t file_size = (size_t)info.st_size;
    const unsigned char *file = mmap(NULL, file_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (file == MAP_FAILED) return;
    const Elf64_Ehdr *header = (const Elf64_Ehdr *)file;
    if (memcmp(header->e_ident, ELFMAG, SELFMAG) != 0 || header->e_ident[EI_CLASS] != ELFCLASS64 ||
        header->e_shoff == 0 || header->e_shoff + (size_t)header->e_shnum * sizeof(Elf64_Shdr) > file_size)
        goto done;
    const Elf64_Shdr *sections = (const Elf64_Shdr *)(file + header->e_shoff);
    const Elf64_Shdr *symtab = NULL;
    for (int index = 0; index < header->e_shnum; index++)
        if (sections[index].sh_type == SHT_SYMTAB) symtab = &sections[index];
    if (symtab == NULL || symtab->sh_link >= header->e_shnum) goto done;
    const Elf64_Shdr *strtab = &sections[symtab->sh_link];
    if (symtab->sh_offset + symtab->sh_size > file_size || strtab->sh_offset + strtab->sh_size > file_size ||
        strtab->sh_size > UINT32_MAX)
        goto done;
    const Elf64_Sym *symbols = (const Elf64_Sym *)(file + symtab->sh_offset);
    size_t symbol_count = symtab->sh_size / sizeof(Elf64_Sym);
    const char *strings = (const char *)(file + strtab->sh_offset);
    function_symbol_t *table = malloc((symbol_count + 1) * sizeof *table);
    // The whole string table, NUL-terminated at its end so that a corrupt last name cannot run over.
    char *copy = malloc(strtab->sh_size + 1);
    if (table == NULL || copy == NULL) {
        free(table);
        free(copy);
        goto done;
    }
    memcpy(copy, strings, strtab->sh_size);
    copy[strtab->sh_size] = 0;
    size_t count = 0;
    for (size_t index = 0; index < symbol_count; index++) {
        const Elf64_Sym *symbol = &symbols[index];
        if (ELF64_ST_TYPE(symbol->st_info) != STT_FUNC || symbol->st_shndx == SHN_UNDEF || symbol->st_size == 0 ||
            symbol->st_name >= strtab->sh_size)
            continue;
        table[count].start = bias + symbol->st_value;
        table[count].end = bias + symbol->st_value + symbol->st_size;
        table[count].name = symbol->st_name;
        count++;
    }
    qsort(table, count, sizeof *table, compare_symbols);
    functions = table;
    function_count = count;
    names = copy;
done:
    munmap((void *)file, file_size);
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
