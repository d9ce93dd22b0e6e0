//! Which machine an ELF binary is built for, and which `uname -m` answers run it: checked for
//! every host before anything is copied there.
//!
//! Only the ELF header's identification (class and byte order) and `e_machine` are read; a
//! binary runs on a host when its machine is the host's family, exactly (a 32-bit ARM or x86
//! binary is refused on a 64-bit host even where the kernel could run it).

use std::io::Read as _;
use std::path::{Path, PathBuf};

/// How many bytes of a file the header needs: `e_ident` (16) and `e_type`, `e_machine`.
const HEADER: usize = 20;

/// Why a file's machine cannot be told.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ElfError {
    /// The file could not be read: check the path given with `--app`.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not an ELF binary (a script, or a binary for another system): give the
    /// app's binary as cargo built it.
    #[error("{path} is not an ELF binary ({why}); give the app's binary, as cargo builds it")]
    NotElf {
        /// The file.
        path: PathBuf,
        /// What is wrong with its header.
        why: String,
    },
}

/// The machine an ELF binary is built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Machine {
    /// `e_machine`.
    pub e_machine: u16,
    /// A 64-bit binary (`ELFCLASS64`).
    pub wide: bool,
    /// Little-endian (`ELFDATA2LSB`).
    pub little_endian: bool,
}

/// `e_machine` values with names (from the System V ABI's list).
const EM_386: u16 = 3;
const EM_MIPS: u16 = 8;
const EM_PPC: u16 = 20;
const EM_PPC64: u16 = 21;
const EM_S390: u16 = 22;
const EM_ARM: u16 = 40;
const EM_X86_64: u16 = 62;
const EM_AARCH64: u16 = 183;
const EM_RISCV: u16 = 243;
const EM_LOONGARCH: u16 = 258;

impl Machine {
    /// The machine of the ELF binary at `path`.
    pub fn of_file(path: &Path) -> Result<Machine, ElfError> {
        let read = |source| ElfError::Read { path: path.to_owned(), source };
        let mut header = Vec::with_capacity(HEADER);
        std::fs::File::open(path).map_err(read)?.take(HEADER as u64).read_to_end(&mut header).map_err(read)?;
        Machine::from_header(&header).map_err(|why| ElfError::NotElf { path: path.to_owned(), why })
    }

    /// The machine of an ELF header (the file's first bytes); the error says what is wrong.
    pub fn from_header(header: &[u8]) -> Result<Machine, String> {
        let Some(ident) = header.get(..HEADER) else {
            return Err(format!("{} bytes, shorter than an ELF header", header.len()));
        };
        if ident[..4] != *b"\x7fELF" {
            return Err("no ELF magic number".into());
        }
        let wide = match ident[4] {
            1 => false,
            2 => true,
            other => return Err(format!("unknown ELF class {other}")),
        };
        let little_endian = match ident[5] {
            1 => true,
            2 => false,
            other => return Err(format!("unknown ELF byte order {other}")),
        };
        let bytes = [ident[18], ident[19]];
        let e_machine = if little_endian { u16::from_le_bytes(bytes) } else { u16::from_be_bytes(bytes) };
        Ok(Machine { e_machine, wide, little_endian })
    }

    /// The machine's usual `uname -m` name, or `None` for a machine this check does not know.
    pub fn name(&self) -> Option<&'static str> {
        Some(match (self.e_machine, self.wide, self.little_endian) {
            (EM_X86_64, true, _) => "x86_64",
            (EM_386, false, _) => "i686",
            (EM_AARCH64, true, _) => "aarch64",
            (EM_ARM, false, _) => "armv7l",
            (EM_RISCV, true, _) => "riscv64",
            (EM_RISCV, false, _) => "riscv32",
            (EM_PPC64, true, true) => "ppc64le",
            (EM_PPC64, true, false) => "ppc64",
            (EM_PPC, false, _) => "ppc",
            (EM_S390, true, _) => "s390x",
            (EM_MIPS, true, _) => "mips64",
            (EM_MIPS, false, _) => "mips",
            (EM_LOONGARCH, true, _) => "loongarch64",
            _ => return None,
        })
    }

    /// What to call the machine in messages: its `uname -m` name, or its number.
    pub fn describe(&self) -> String {
        match self.name() {
            Some(name) => name.to_owned(),
            None => format!("ELF machine {} ({}-bit)", self.e_machine, if self.wide { 64 } else { 32 }),
        }
    }

    /// Whether a host whose `uname -m` answers `uname` runs this binary.
    pub fn runs_on(&self, uname: &str) -> bool {
        let uname = uname.trim();
        match self.name() {
            Some("x86_64") => uname == "x86_64" || uname == "amd64",
            Some("i686") => matches!(uname, "i386" | "i486" | "i586" | "i686"),
            Some("aarch64") => uname == "aarch64" || uname == "arm64",
            // armv6l, armv7l, and armv8l (a 32-bit ARM kernel on a 64-bit core).
            Some("armv7l") => uname.starts_with("arm") && uname != "arm64",
            Some("mips") => uname == "mips",
            Some(name) => uname == name,
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first 20 bytes of an ELF header: class, byte order and machine.
    fn header(wide: bool, little: bool, machine: u16) -> Vec<u8> {
        let mut h = b"\x7fELF".to_vec();
        h.push(if wide { 2 } else { 1 });
        h.push(if little { 1 } else { 2 });
        h.extend([1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        h.extend(if little { 2u16.to_le_bytes() } else { 2u16.to_be_bytes() });
        h.extend(if little { machine.to_le_bytes() } else { machine.to_be_bytes() });
        h
    }

    #[test]
    fn a_binary_runs_only_on_its_own_machine() {
        let x86 = Machine::from_header(&header(true, true, EM_X86_64)).unwrap();
        assert_eq!(x86.name(), Some("x86_64"));
        assert!(x86.runs_on("x86_64\n"));
        assert!(!x86.runs_on("aarch64"));
        let arm64 = Machine::from_header(&header(true, true, EM_AARCH64)).unwrap();
        assert!(arm64.runs_on("aarch64") && !arm64.runs_on("x86_64") && !arm64.runs_on("armv7l"));
        let arm = Machine::from_header(&header(false, true, EM_ARM)).unwrap();
        assert!(arm.runs_on("armv7l") && arm.runs_on("armv6l") && !arm.runs_on("aarch64") && !arm.runs_on("arm64"));
        let ppc = Machine::from_header(&header(true, false, EM_PPC64)).unwrap();
        assert_eq!(ppc.name(), Some("ppc64"));
        assert!(ppc.runs_on("ppc64") && !ppc.runs_on("ppc64le"));
        let riscv = Machine::from_header(&header(true, true, EM_RISCV)).unwrap();
        assert!(riscv.runs_on("riscv64"));
    }

    #[test]
    fn an_unknown_machine_runs_nowhere_and_is_named_by_number() {
        let odd = Machine::from_header(&header(true, true, 9999)).unwrap();
        assert_eq!(odd.name(), None);
        assert!(!odd.runs_on("x86_64"));
        assert_eq!(odd.describe(), "ELF machine 9999 (64-bit)");
    }

    #[test]
    fn what_is_not_an_elf_header_says_why() {
        assert!(Machine::from_header(b"#!/bin/sh\necho hello world\n").unwrap_err().contains("no ELF magic"));
        assert!(Machine::from_header(b"\x7fELF").unwrap_err().contains("shorter"));
        let mut bad = header(true, true, EM_X86_64);
        bad[4] = 7;
        assert!(Machine::from_header(&bad).unwrap_err().contains("class 7"));
    }

    #[test]
    fn the_test_binary_itself_runs_here() {
        let me = std::env::current_exe().unwrap();
        let machine = Machine::of_file(&me).unwrap();
        assert!(machine.runs_on(std::env::consts::ARCH), "{machine:?} on {}", std::env::consts::ARCH);
    }
}
