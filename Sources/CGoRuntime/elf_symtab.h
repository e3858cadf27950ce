// elf_symtab.h — the running executable's ELF symbol table, mapped once for a table builder (private to
// CGoRuntime: preempt.c's safe-PC ranges and symtab.c's function names read the same section).
#ifndef GORT_ELF_SYMTAB_H
#define GORT_ELF_SYMTAB_H

#include <elf.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct gort_elf_symtab {
    const unsigned char *file;  // the whole of /proc/self/exe, mapped read-only
    size_t file_size;
    const Elf64_Sym *symbols;
    size_t symbol_count;
    const char *strings;        // the string table; its last byte is NUL (checked), so every name ends
    size_t strings_size;
    uintptr_t bias;             // where the executable is loaded: add to a symbol's value
} gort_elf_symtab;

// Maps /proc/self/exe and finds its symbol table. False — with nothing left mapped — for a stripped binary
// or a file that is not a well-formed 64-bit ELF (every offset and size checked against the file's).
bool gort_elf_symtab_open(gort_elf_symtab *table);

// Unmaps the file; the table's pointers are dangling afterwards.
void gort_elf_symtab_close(gort_elf_symtab *table);

// Whether `symbol` is a defined function with a size and a name inside the string table: the symbols both
// builders keep.
static inline bool gort_elf_symtab_is_function(const gort_elf_symtab *table, const Elf64_Sym *symbol) {
    return ELF64_ST_TYPE(symbol->st_info) == STT_FUNC && symbol->st_shndx != SHN_UNDEF && symbol->st_size != 0 &&
        symbol->st_name < table->strings_size;
}

#endif
