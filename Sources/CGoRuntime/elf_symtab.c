// elf_symtab.c — mapping the running executable's `.symtab` (see elf_symtab.h). Not async-signal-safe: it is
// called once per table, from normal context (preempt.c builds its table before installing the handler).
#define _GNU_SOURCE 1
#include "elf_symtab.h"
#include <fcntl.h>
#include <link.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static int first_object_bias(struct dl_phdr_info *info, size_t size, void *out) {
    (void)size;
    // The first object dl_iterate_phdr reports is the main program.
    *(uintptr_t *)out = info->dlpi_addr;
    return 1;
}

bool gort_elf_symtab_open(gort_elf_symtab *table) {
    memset(table, 0, sizeof *table);
    dl_iterate_phdr(first_object_bias, &table->bias);
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    struct stat info;
    if (fstat(fd, &info) != 0 || (size_t)info.st_size < sizeof(Elf64_Ehdr)) {
        close(fd);
        return false;
    }
    size_t file_size = (size_t)info.st_size;
    const unsigned char *file = mmap(NULL, file_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (file == MAP_FAILED) return false;
    const Elf64_Ehdr *header = (const Elf64_Ehdr *)file;
    if (memcmp(header->e_ident, ELFMAG, SELFMAG) != 0 || header->e_ident[EI_CLASS] != ELFCLASS64 ||
        header->e_shoff == 0 || header->e_shoff + (size_t)header->e_shnum * sizeof(Elf64_Shdr) > file_size)
        goto fail;
    const Elf64_Shdr *sections = (const Elf64_Shdr *)(file + header->e_shoff);
    const Elf64_Shdr *symtab = NULL;
    for (int index = 0; index < header->e_shnum; index++)
        if (sections[index].sh_type == SHT_SYMTAB) symtab = &sections[index];
    if (symtab == NULL || symtab->sh_link >= header->e_shnum) goto fail;
    const Elf64_Shdr *strtab = &sections[symtab->sh_link];
    // Name offsets are kept as 32-bit numbers (symtab.c); a table that large is not one a linker wrote.
    if (symtab->sh_offset + symtab->sh_size > file_size || strtab->sh_offset + strtab->sh_size > file_size ||
        strtab->sh_size == 0 || strtab->sh_size > UINT32_MAX || file[strtab->sh_offset + strtab->sh_size - 1] != 0)
        goto fail;
    table->file = file;
    table->file_size = file_size;
    table->symbols = (const Elf64_Sym *)(file + symtab->sh_offset);
    table->symbol_count = symtab->sh_size / sizeof(Elf64_Sym);
    table->strings = (const char *)(file + strtab->sh_offset);
    table->strings_size = strtab->sh_size;
    return true;
fail:
    munmap((void *)file, file_size);
    return false;
}

void gort_elf_symtab_close(gort_elf_symtab *table) {
    if (table->file != NULL) munmap((void *)table->file, table->file_size);
    table->file = NULL;
}
