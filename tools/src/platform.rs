//! What the microkit tool knows about a board and kernel configuration that
//! a checker can decide statically: cores, page sizes, the PD address-space
//! layout (`sel4.rs` `Config`), the physical memory map (`platform_gen.json`)
//! and the tool's fixed limits (`lib.rs`, `sdf.rs`).
//!
//! The facts for the boards tunnelkit knows are embedded below ([`known`]);
//! [`from_sdk`] reads the same facts from any SDK board/config directory.

use std::ops::Range;
use std::path::Path;

use serde_json::Value;

use crate::board::{Arch, Board, KernelConfig};

/// Most protection domains in a system (`lib.rs` `MAX_PDS`).
pub const MAX_PDS: usize = 63;
/// Most virtual machines in a system (`lib.rs` `MAX_VMS`).
pub const MAX_VMS: usize = 63;
/// Bytes of a PD name the tool keeps (`lib.rs`; longer names are cut).
pub const PD_MAX_NAME_LENGTH: usize = 64;
/// Bytes of a VM name the tool keeps (`lib.rs`).
pub const VM_MAX_NAME_LENGTH: usize = 64;
/// Highest channel / IRQ id (`sdf.rs` `PD_MAX_ID`: "id must be < 62").
pub const PD_MAX_ID: u64 = 61;
/// Cap-map destination slots are `0..CAP_MAP_MAX_SLOT` (`sdf.rs`).
pub const CAP_MAP_MAX_SLOT: u64 = 128;
/// Highest PD priority (`sdf.rs`; the monitor has 255).
pub const PD_MAX_PRIORITY: u8 = 254;
/// Stack size of a PD without `stack_size` (`sdf.rs`).
pub const PD_DEFAULT_STACK_SIZE: u64 = 0x2000;
/// Smallest `stack_size` (`sdf.rs`).
pub const PD_MIN_STACK_SIZE: u64 = 0x1000;
/// Largest `stack_size`, 16 MiB (`sdf.rs`).
pub const PD_MAX_STACK_SIZE: u64 = 16 * 1024 * 1024;
/// Highest x86 IRQ `vector` (`sdf.rs` `X86_IRQ_VECTOR_MAX`).
pub const X86_IRQ_VECTOR_MAX: u64 = 107;

/// The page the tool lays out IPC buffers and stacks in (`PageSize::Small`).
const SMALL_PAGE: u64 = 0x1000;

/// A board's instruction set, including ones [`Arch`] does not have yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlatformArch {
    /// AArch64.
    Aarch64,
    /// RISC-V 64-bit.
    Riscv64,
    /// x86-64.
    X86_64,
}

impl PlatformArch {
    /// From the kernel's `SEL4_ARCH` (`aarch64`, `riscv64`, `x86_64`).
    pub fn from_sel4_arch(name: &str) -> Option<PlatformArch> {
        match name {
            "aarch64" => Some(PlatformArch::Aarch64),
            "riscv64" => Some(PlatformArch::Riscv64),
            "x86_64" => Some(PlatformArch::X86_64),
            _ => None,
        }
    }

    /// The `e_machine` of ELF images for this architecture.
    pub const fn elf_machine(self) -> u16 {
        match self {
            PlatformArch::Aarch64 => 183,
            PlatformArch::Riscv64 => 243,
            PlatformArch::X86_64 => 62,
        }
    }
}

impl From<Arch> for PlatformArch {
    fn from(arch: Arch) -> Self {
        match arch {
            Arch::Aarch64 => PlatformArch::Aarch64,
            Arch::X86_64 => PlatformArch::X86_64,
            Arch::Riscv64 => PlatformArch::Riscv64,
        }
    }
}

/// The physical memory the kernel hands out (ARM and RISC-V only).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemoryMap {
    /// Device regions (`platform_gen.json` `devices`), as listed.
    pub devices: Vec<Range<u64>>,
    /// RAM (`platform_gen.json` `memory`), as listed.
    pub ram: Vec<Range<u64>>,
}

/// Which kind of memory a [`PhysRegion`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegionKind {
    /// Device memory (uncached frames).
    Device,
    /// RAM.
    Ram,
}

/// A region of the memory map, contiguous entries of one kind merged as
/// the tool merges them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhysRegion {
    /// Device or RAM.
    pub kind: RegionKind,
    /// Its addresses.
    pub range: Range<u64>,
}

/// Where a fixed physical range lies, see [`Platform::phys_region`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PhysPlacement {
    /// Entirely inside this device region.
    Device(Range<u64>),
    /// Entirely inside this RAM region.
    Ram(Range<u64>),
    /// Covered, but partly by device memory and partly by RAM; the tool
    /// checks each frame on its own, so only frames crossing the boundary fail.
    DeviceAndRam,
    /// Not (entirely) covered; the regions just below/around and above its
    /// start, for a hint.
    Outside {
        /// The last region starting at or before the range's start.
        below: Option<PhysRegion>,
        /// The first region starting after the range's start.
        above: Option<PhysRegion>,
    },
    /// The board has no static memory map (x86): the tool cannot check.
    Unchecked,
}

/// What the microkit tool knows about one board and kernel configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Platform {
    /// Board name as the SDK spells it.
    pub board: String,
    /// Configuration name (`debug`, `smp-release`, …).
    pub config: String,
    /// Instruction set (`SEL4_ARCH`).
    pub arch: PlatformArch,
    /// Cores a PD's `cpu` may name: `MAX_NUM_NODES` with
    /// `ENABLE_SMP_SUPPORT`, else 1 ("cpu core must be less than N").
    pub cores: u32,
    /// Small and large page sizes (`object_sizes.json`; the tool's
    /// `Config::page_sizes` hard-codes the same 4 KiB and 2 MiB).
    pub page_sizes: [u64; 2],
    /// `seL4_UserVSpaceTop`, inclusive (`address_space_constants.json`).
    pub vspace_user_top: u64,
    /// `PADDR_USER_DEVICE_TOP` (read by the tool, not used by its checks).
    pub paddr_user_device_top: u64,
    /// `ARM_HYPERVISOR_SUPPORT` (AArch64) or `VTX` (x86); false on RISC-V.
    /// Without it the tool refuses `virtual_machine`.
    pub hypervisor: bool,
    /// `HAVE_FPU`.
    pub fpu: bool,
    /// `NUM_DOMAINS`.
    pub num_domains: u32,
    /// `NUM_DOMAIN_SCHEDULES`.
    pub num_domain_schedules: u64,
    /// The tool's `benchmark` flag: the config is named exactly `benchmark`
    /// (not `smp-benchmark`); only then does each PD get its own TCB cap.
    pub benchmark: bool,
    /// Device and RAM regions; `None` on x86.
    pub memory_map: Option<MemoryMap>,
    /// The RAM the kernel image keeps after boot, `[ki_boot_end, ki_end)`
    /// in physical addresses (its boot part is handed back); `None` on x86.
    /// The tool removes it from the memory fixed `phys_addr` frames may use.
    pub kernel_image: Option<Range<u64>>,
}

impl Platform {
    /// The IPC buffer's address: the highest user page (`pd_ipc_buffer`).
    pub fn pd_ipc_buffer(&self) -> u64 {
        self.vspace_user_top & !(SMALL_PAGE - 1)
    }

    /// The initial stack pointer, one guard page below the IPC buffer
    /// (`pd_stack_top`).
    pub fn pd_stack_top(&self) -> u64 {
        self.pd_ipc_buffer().saturating_sub(SMALL_PAGE)
    }

    /// The lowest stack address for `stack_size` (`pd_stack_bottom`).
    pub fn pd_stack_bottom(&self, stack_size: u64) -> u64 {
        self.pd_stack_top().saturating_sub(stack_size)
    }

    /// A PD's maps must end at or below this (`pd_map_max_vaddr`, the stack
    /// bottom): "… which exceeds valid address space [0x0..max)".
    pub fn pd_map_max_vaddr(&self, stack_size: u64) -> u64 {
        self.pd_stack_bottom(stack_size)
    }

    /// A VM's maps must end at or below this (`vm_map_max_vaddr`).
    pub fn vm_map_max_vaddr(&self) -> u64 {
        self.vspace_user_top.saturating_add(1)
    }

    /// The pages the tool maps for a PD besides its image and maps: the
    /// stack and the IPC buffer (the guard page between them stays unmapped).
    pub fn pd_reserved_ranges(&self, stack_size: u64) -> [Range<u64>; 2] {
        let ipc = self.pd_ipc_buffer();
        [self.pd_stack_bottom(stack_size)..self.pd_stack_top(), ipc..ipc.saturating_add(SMALL_PAGE)]
    }

    /// Where `[start, end)` lies in the memory map (an empty range counts as
    /// the byte at `start`).
    ///
    /// The tool checks every frame with a fixed `phys_addr` against the
    /// untypeds the kernel will hand out (`capdl/allocation.rs`): device
    /// regions, and RAM minus the kernel image and the initial task. A frame
    /// in none of them fails the build with "ERROR: object 'mr_<name>_<n>',
    /// with paddr 0x…..0x… is not in any valid memory region." and a list of
    /// the valid ranges. So [`PhysPlacement::Ram`] is necessary, not
    /// sufficient: the kernel image sits at the start of RAM.
    pub fn phys_region(&self, start: u64, end: u64) -> PhysPlacement {
        let Some(map) = &self.memory_map else {
            return PhysPlacement::Unchecked;
        };
        let end = end.max(start.saturating_add(1));
        let regions = map.regions();
        let first = regions.partition_point(|r| r.range.start <= start);
        let below = first.checked_sub(1).and_then(|i| regions.get(i)).cloned();
        let above = regions.get(first).cloned();
        let outside = || PhysPlacement::Outside { below: below.clone(), above: above.clone() };
        let Some(containing) = below.as_ref().filter(|r| r.range.contains(&start)) else {
            return outside();
        };
        if end <= containing.range.end {
            return match containing.kind {
                RegionKind::Device => PhysPlacement::Device(containing.range.clone()),
                RegionKind::Ram => PhysPlacement::Ram(containing.range.clone()),
            };
        }
        // Covered by a run of adjacent regions of both kinds?
        let mut reached = containing.range.end;
        for r in &regions[first..] {
            if r.range.start != reached {
                break;
            }
            reached = r.range.end;
            if end <= reached {
                return PhysPlacement::DeviceAndRam;
            }
        }
        outside()
    }
}

impl MemoryMap {
    /// All regions sorted by start, contiguous same-kind entries merged.
    pub fn regions(&self) -> Vec<PhysRegion> {
        let tagged = |v: &[Range<u64>], kind| v.iter().map(|r| PhysRegion { kind, range: r.clone() }).collect::<Vec<_>>();
        let mut all = tagged(&self.devices, RegionKind::Device);
        all.extend(tagged(&self.ram, RegionKind::Ram));
        all.sort_by_key(|r| (r.range.start, r.range.end));
        let mut merged: Vec<PhysRegion> = Vec::new();
        for r in all.into_iter().filter(|r| r.range.start < r.range.end) {
            match merged.last_mut() {
                Some(last) if last.kind == r.kind && last.range.end == r.range.start => last.range.end = r.range.end,
                _ => merged.push(r),
            }
        }
        merged
    }
}

/// `[ki_boot_end, ki_end)` of each SDK kernel (`elf/sel4.elf`), physical.
const KERNEL_IMAGES: &[(&str, &str, u64, u64)] = &[
    ("qemu_virt_aarch64", "debug", 0x6001_0000, 0x6025_c000),
    ("qemu_virt_aarch64", "release", 0x6001_0000, 0x6024_2000),
    ("qemu_virt_aarch64", "benchmark", 0x6001_0000, 0x6024_2000),
    ("qemu_virt_aarch64", "smp-debug", 0x6001_0000, 0x6026_4000),
    ("qemu_virt_aarch64", "smp-release", 0x6001_0000, 0x6024_0000),
    ("qemu_virt_aarch64", "smp-benchmark", 0x6001_0000, 0x6024_0000),
    ("qemu_virt_riscv64", "debug", 0x8020_3000, 0x8023_8000),
    ("qemu_virt_riscv64", "release", 0x8020_2000, 0x8022_3000),
    ("qemu_virt_riscv64", "benchmark", 0x8020_2000, 0x8022_4000),
    ("qemu_virt_riscv64", "smp-debug", 0x8020_3000, 0x8023_9000),
    ("qemu_virt_riscv64", "smp-release", 0x8020_3000, 0x8022_2000),
    ("qemu_virt_riscv64", "smp-benchmark", 0x8020_3000, 0x8022_2000),
];

/// `(start, end)` pairs as `platform_gen.json` lists them.
type Regions = &'static [(u64, u64)];

/// Facts read from the Microkit 2.x SDK's board directories.
struct BoardFacts {
    name: &'static str,
    arch: PlatformArch,
    vspace_user_top: u64,
    paddr_user_device_top: u64,
    hypervisor: bool,
    fpu: bool,
    page_sizes: [u64; 2],
    /// (devices, RAM) as `(start, end)`; `None` on x86.
    memory_map: Option<(Regions, Regions)>,
    /// (config, cores, NUM_DOMAINS, NUM_DOMAIN_SCHEDULES)
    configs: [(&'static str, u32, u32, u64); 6],
}

/// The same in all three boards: smp configs have one domain.
const fn configs(smp_cores: u32) -> [(&'static str, u32, u32, u64); 6] {
    [
        ("debug", 1, 16, 100),
        ("release", 1, 16, 100),
        ("benchmark", 1, 16, 100),
        ("smp-debug", smp_cores, 1, 2),
        ("smp-release", smp_cores, 1, 2),
        ("smp-benchmark", smp_cores, 1, 2),
    ]
}

const BOARDS: &[BoardFacts] = &[
    BoardFacts {
        name: "qemu_virt_aarch64",
        arch: PlatformArch::Aarch64,
        vspace_user_top: 0xff_ffff_ffff,
        paddr_user_device_top: 0x100_0000_0000,
        hypervisor: true,
        fpu: true,
        page_sizes: [0x1000, 0x20_0000],
        memory_map: Some((
            &[
                (0x0, 0x800_0000),
                (0x800_1000, 0x801_0000),
                (0x801_1000, 0x803_0000),
                (0x803_1000, 0x6000_0000),
                (0xc000_0000, 0x100_0000_0000),
            ],
            &[(0x6000_0000, 0xc000_0000)],
        )),
        configs: configs(4),
    },
    BoardFacts {
        name: "qemu_virt_riscv64",
        arch: PlatformArch::Riscv64,
        vspace_user_top: 0x3f_ffff_efff,
        paddr_user_device_top: 0x80_0000_0000,
        hypervisor: false,
        fpu: true,
        page_sizes: [0x1000, 0x20_0000],
        memory_map: Some((
            &[(0x0, 0x200_0000), (0x220_0000, 0xc00_0000), (0xc60_0000, 0x8020_0000), (0x1_0000_0000, 0x80_0000_0000)],
            &[(0x8020_0000, 0x1_0000_0000)],
        )),
        configs: configs(4),
    },
    BoardFacts {
        name: "x86_64_generic",
        arch: PlatformArch::X86_64,
        vspace_user_top: 0x7fff_ffff_efff,
        paddr_user_device_top: 0x8000_0000_0000,
        hypervisor: false,
        fpu: true,
        page_sizes: [0x1000, 0x20_0000],
        memory_map: None,
        configs: configs(16),
    },
];

/// The embedded facts for `board_name` / `config_name`, if tunnelkit has them.
pub fn known(board_name: &str, config_name: &str) -> Option<Platform> {
    let b = BOARDS.iter().find(|b| b.name == board_name)?;
    let &(config, cores, num_domains, num_domain_schedules) = b.configs.iter().find(|c| c.0 == config_name)?;
    let ranges = |v: &[(u64, u64)]| v.iter().map(|&(s, e)| s..e).collect();
    Some(Platform {
        board: b.name.to_string(),
        config: config.to_string(),
        arch: b.arch,
        cores,
        page_sizes: b.page_sizes,
        vspace_user_top: b.vspace_user_top,
        paddr_user_device_top: b.paddr_user_device_top,
        hypervisor: b.hypervisor,
        fpu: b.fpu,
        num_domains,
        num_domain_schedules,
        benchmark: config == "benchmark",
        memory_map: b.memory_map.map(|(d, r)| MemoryMap { devices: ranges(d), ram: ranges(r) }),
        kernel_image: KERNEL_IMAGES.iter().find(|k| k.0 == board_name && k.1 == config).map(|k| k.2..k.3),
    })
}

/// The facts for a [`Board`] and [`KernelConfig`]: [`known`] for a
/// built-in board, else read from `$MICROKIT_SDK` ([`from_sdk`]; `config`'s
/// directory, or the board's first if the SDK lacks it). `None` when
/// neither has them.
pub fn for_board(board: Board, config: KernelConfig) -> Option<Platform> {
    if let Some(p) = known(board.name(), config.name()) {
        return Some(p);
    }
    let sdk = crate::sdk::Sdk::from_env().ok()?;
    let dir = sdk.root().join("board").join(board.name());
    std::iter::once(config).chain(KernelConfig::ALL).map(|c| dir.join(c.name())).find(|d| d.is_dir()).and_then(|d| from_sdk(&d).ok())
}

/// Reads the facts from an SDK directory `board/<board>/<config>` the way
/// the tool does (`main.rs`): `include/kernel/gen_config.json`,
/// `object_sizes.json`, `address_space_constants.json` and, except on x86,
/// `platform_gen.json`. Errors name the file and what is wrong.
pub fn from_sdk(sdk_board_config_dir: &Path) -> Result<Platform, String> {
    let dir = sdk_board_config_dir;
    let name = |p: Option<&Path>| p.and_then(|p| p.file_name()).map(|n| n.to_string_lossy().into_owned());
    let config = name(Some(dir)).ok_or_else(|| format!("{}: no config name in the path", dir.display()))?;
    let board = name(dir.parent()).ok_or_else(|| format!("{}: no board name in the path", dir.display()))?;

    let kconf = Json::read(dir, "include/kernel/gen_config.json")?;
    let sel4_arch = kconf.str("SEL4_ARCH")?;
    let arch = PlatformArch::from_sel4_arch(sel4_arch)
        .ok_or_else(|| kconf.err(&format!("SEL4_ARCH '{sel4_arch}' is not one the microkit tool supports")))?;
    let sizes = Json::read(dir, "object_sizes.json")?;
    let space = Json::read(dir, "address_space_constants.json")?;
    let page = |key: &str| {
        let bits = sizes.u64(key)?;
        u32::try_from(bits)
            .ok()
            .and_then(|b| 1u64.checked_shl(b))
            .ok_or_else(|| sizes.err(&format!("'{key}' is not a page size in bits: {bits}")))
    };

    let memory_map = match arch {
        PlatformArch::X86_64 => None,
        _ => {
            let plat = Json::read(dir, "platform_gen.json")?;
            Some(MemoryMap { devices: plat.regions("devices")?, ram: plat.regions("memory")? })
        }
    };
    let hypervisor = match arch {
        PlatformArch::Aarch64 => kconf.bool("ARM_HYPERVISOR_SUPPORT")?,
        PlatformArch::X86_64 => kconf.bool("VTX")?,
        PlatformArch::Riscv64 => false,
    };
    let cores = if kconf.bool("ENABLE_SMP_SUPPORT")? { kconf.u64("MAX_NUM_NODES")? } else { 1 };
    let kernel_image = match arch {
        PlatformArch::X86_64 => None,
        _ => Some(kernel_image(&dir.join("elf/sel4.elf"))?),
    };
    Ok(Platform {
        benchmark: config == "benchmark",
        board,
        config,
        arch,
        cores: u32::try_from(cores).map_err(|_| kconf.err("MAX_NUM_NODES is too large"))?,
        page_sizes: [page("small_page")?, page("large_page")?],
        vspace_user_top: space.u64("vspace_user_top")?,
        paddr_user_device_top: kconf.u64("PADDR_USER_DEVICE_TOP")?,
        hypervisor,
        fpu: kconf.bool("HAVE_FPU")?,
        num_domains: u32::try_from(kconf.u64("NUM_DOMAINS")?).map_err(|_| kconf.err("NUM_DOMAINS is too large"))?,
        num_domain_schedules: kconf.u64("NUM_DOMAIN_SCHEDULES")?,
        memory_map,
        kernel_image,
    })
}

/// `[ki_boot_end, ki_end)` of the kernel ELF at `path`, physical, as the
/// tool computes it (offsets from the first loadable segment).
fn kernel_image(path: &Path) -> Result<Range<u64>, String> {
    use crate::elf_image::{ElfImage, SymbolLookup};
    let shown = path.display();
    let elf = ElfImage::read(path).map_err(|e| format!("{shown}: {e}"))?;
    let first = elf.segments.first().ok_or_else(|| format!("{shown}: no loadable segment"))?;
    let phys = |sym: &str| match elf.symbol(sym) {
        SymbolLookup::Found { vaddr, .. } => Ok(vaddr.wrapping_sub(first.vaddr).wrapping_add(first.paddr)),
        _ => Err(format!("{shown}: no single symbol '{sym}'")),
    };
    Ok(phys("ki_boot_end")?..phys("ki_end")?)
}

/// One parsed SDK JSON file, with its path for messages.
struct Json {
    path: String,
    value: Value,
}

impl Json {
    fn read(dir: &Path, file: &str) -> Result<Json, String> {
        let path = dir.join(file);
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(&path).map_err(|e| format!("{shown}: cannot read: {e}"))?;
        let value = serde_json::from_str(&text).map_err(|e| format!("{shown}: not valid JSON: {e}"))?;
        Ok(Json { path: shown, value })
    }

    fn err(&self, what: &str) -> String {
        format!("{}: {what}", self.path)
    }

    fn field(&self, key: &str) -> Result<&Value, String> {
        self.value.get(key).ok_or_else(|| self.err(&format!("no field '{key}'")))
    }

    fn str(&self, key: &str) -> Result<&str, String> {
        self.field(key)?.as_str().ok_or_else(|| self.err(&format!("'{key}' is not a string")))
    }

    /// A number, or (as in gen_config.json) a string holding one.
    fn u64(&self, key: &str) -> Result<u64, String> {
        let v = self.field(key)?;
        v.as_u64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            .ok_or_else(|| self.err(&format!("'{key}' is not a whole number: {v}")))
    }

    fn bool(&self, key: &str) -> Result<bool, String> {
        self.field(key)?.as_bool().ok_or_else(|| self.err(&format!("'{key}' is not true or false")))
    }

    /// A list of `{"start": …, "end": …}` objects.
    fn regions(&self, key: &str) -> Result<Vec<Range<u64>>, String> {
        let list = self.field(key)?.as_array().ok_or_else(|| self.err(&format!("'{key}' is not a list")))?;
        list.iter()
            .map(|r| {
                let n = |k: &str| r.get(k).and_then(Value::as_u64);
                match (n("start"), n("end")) {
                    (Some(s), Some(e)) => Ok(s..e),
                    _ => Err(self.err(&format!("an entry of '{key}' lacks a numeric start and end: {r}"))),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aarch64() -> Platform {
        known("qemu_virt_aarch64", "debug").expect("embedded")
    }

    #[test]
    fn embedded_tables_match_the_sdk() {
        let Some(sdk) = std::env::var_os("MICROKIT_SDK") else {
            println!("skipped: MICROKIT_SDK not set");
            return;
        };
        let mut compared = 0;
        let boards = std::fs::read_dir(Path::new(&sdk).join("board")).expect("SDK has a board directory");
        for board in boards.flatten() {
            for config in std::fs::read_dir(board.path()).into_iter().flatten().flatten() {
                let dir = config.path();
                if !dir.join("include/kernel/gen_config.json").is_file() {
                    continue;
                }
                let (b, c) = (board.file_name().to_string_lossy().into_owned(), config.file_name().to_string_lossy().into_owned());
                let read = from_sdk(&dir).unwrap_or_else(|e| panic!("{e}"));
                match known(&b, &c) {
                    Some(embedded) => assert_eq!(read, embedded, "{b}/{c}: embedded facts differ from the SDK"),
                    None => println!("note: {b}/{c} is in the SDK but not embedded"),
                }
                compared += 1;
            }
        }
        println!("compared {compared} SDK board/config directories");
        assert!(compared > 0, "no board/config directories under the SDK");
    }

    #[test]
    fn every_board_and_config_is_embedded() {
        for b in Board::BUILT_IN {
            for c in KernelConfig::ALL {
                let p = for_board(b, c).unwrap_or_else(|| panic!("{}/{}", b.name(), c.name()));
                assert_eq!(p.arch, PlatformArch::from(b.arch()));
                assert_eq!(p.cores, b.cores(c));
                assert_eq!(p.pd_ipc_buffer(), b.ipc_buffer_addr());
                assert_eq!(p.pd_stack_top(), b.stack_top());
                assert_eq!(p.benchmark, c == KernelConfig::Benchmark);
            }
        }
        assert!(known("qemu_virt_riscv64", "smp-release").is_some_and(|p| p.cores == 4));
        assert_eq!(known("maaxboard", "debug"), None);
        assert_eq!(known("qemu_virt_aarch64", "fast"), None);
    }

    #[test]
    fn layout_is_the_tools() {
        let p = aarch64();
        assert_eq!(p.pd_ipc_buffer(), 0xff_ffff_f000);
        assert_eq!(p.pd_stack_top(), 0xff_ffff_e000);
        assert_eq!(p.pd_stack_bottom(0x2000), 0xff_ffff_c000);
        assert_eq!(p.pd_map_max_vaddr(0x2000), 0xff_ffff_c000);
        assert_eq!(p.vm_map_max_vaddr(), 0x100_0000_0000);
        assert_eq!(p.pd_reserved_ranges(0x1000), [0xff_ffff_d000..0xff_ffff_e000, 0xff_ffff_f000..0x100_0000_0000]);
        let x86 = known("x86_64_generic", "release").expect("embedded");
        assert_eq!(x86.pd_ipc_buffer(), 0x7fff_ffff_e000);
        assert!(!x86.hypervisor && x86.memory_map.is_none());
    }

    #[test]
    fn phys_region_on_qemu_virt_aarch64() {
        let p = aarch64();
        // The GIC distributor: the kernel keeps it, so it is in no region.
        match p.phys_region(0x800_0000, 0x800_1000) {
            PhysPlacement::Outside { below, above } => {
                assert_eq!(below.map(|r| r.range), Some(0x0..0x800_0000));
                assert_eq!(above.map(|r| r.range), Some(0x800_1000..0x801_0000));
            }
            other => panic!("GICD: {other:?}"),
        }
        assert_eq!(p.phys_region(0x900_0000, 0x900_1000), PhysPlacement::Device(0x803_1000..0x6000_0000));
        assert_eq!(p.phys_region(0x6000_0000, 0x6000_1000), PhysPlacement::Ram(0x6000_0000..0xc000_0000));
        assert_eq!(p.phys_region(0x5fff_f000, 0x6000_1000), PhysPlacement::DeviceAndRam);
        assert!(matches!(p.phys_region(0x7ff_f000, 0x800_1000), PhysPlacement::Outside { .. }));
        assert!(matches!(p.phys_region(0x100_0000_0000, 0x100_0000_1000), PhysPlacement::Outside { above: None, .. }));
        assert_eq!(p.phys_region(0x900_0000, 0), PhysPlacement::Device(0x803_1000..0x6000_0000));
        assert!(matches!(p.phys_region(u64::MAX, 0), PhysPlacement::Outside { above: None, .. }));
        let x86 = known("x86_64_generic", "debug").expect("embedded");
        assert_eq!(x86.phys_region(0xfebd_0000, 0xfebd_1000), PhysPlacement::Unchecked);
    }

    #[test]
    fn from_sdk_errors_name_the_file() {
        let err = from_sdk(Path::new("/nonexistent/board/debug")).unwrap_err();
        assert!(err.contains("gen_config.json") && err.contains("cannot read"), "{err}");
    }
}
