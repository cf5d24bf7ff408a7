#!/usr/bin/env python3
"""Renders system descriptions with the LionsOS SDF generator (PyPI `sdfgen`)
for tests/sdfgen.rs, which runs `tunnelkit check` and the microkit tool on
each and requires the same verdict.

    render.py --board qemu_virt_aarch64|x86_64_generic OUTDIR

writes OUTDIR/<name>.xml for every system and OUTDIR/manifest.json: a list of
{"name", "file", "expect": "valid"|"invalid", "tool": substring of the tool's
error (invalid systems), "what"}. The expectations were calibrated against
the microkit 2.3.0 tool; the test checks them, so an invalid system is invalid
for the reason it was written for (and the comparison is not vacuous).

Program images are the demo system's (`tunnelkit build --system system.xml`
puts them in target/tunnelkit/<board>/debug/); every setvar names one of the
8-byte `tunnel_lend_vaddr_N` / `tunnel_lend_size_N` symbols (N in 0..=61) that
every tunnelkit PD image defines.

Written for sdfgen 0.35.1 (pinned in .ci/run and tests/sdfgen.rs). What it
cannot express: child PD ids other than plain decimal (it renders every id
with `{d}`), channel or IRQ ids above 61 and child ids above 61 (it panics),
two channel ends or a channel and an IRQ with the same id in one PD, a child
id used twice, `pp` on both ends, a channel to itself, and `perms="w"` (it
refuses those itself).
"""

import argparse
import json
import os
import sys

from sdfgen import SystemDescription as SD

PD = SD.ProtectionDomain
MR = SD.MemoryRegion
Map = SD.Map
Channel = SD.Channel

CLIENT = "demo-client.elf"
CRYPT = "crypt-pod.elf"
CHECKSUM = "checksum-pod.elf"
REPORT = "demo-report.elf"

# (sdfgen architecture, top of physical memory for sdfgen's allocator
# (unused: every physical region here has a fixed address), stack bottom of
# a PD with the default 0x2000 stack: stack top (two pages below
# seL4_UserVSpaceTop, tunnel-pd/sys/src/board.rs) minus 0x2000).
BOARDS = {
    "qemu_virt_aarch64": (SD.Arch.AARCH64, 0xA000_0000, 0xFF_FFFF_C000),
    "x86_64_generic": (SD.Arch.X86_64, 0x8000_0000, 0x7FFF_FFFF_B000),
}


def vaddr_var(n):
    return f"tunnel_lend_vaddr_{n}"


def size_var(n):
    return f"tunnel_lend_size_{n}"


class System:
    """One system description being built, with the PDs and MRs it adds."""

    def __init__(self, board):
        self.board = board
        self.arch, paddr_top, self.stack_bottom = BOARDS[board]
        self.x86 = self.arch == SD.Arch.X86_64
        self.sdf = SD(self.arch, paddr_top)

    def pd(self, name, image, **kw):
        pd = PD(name, image, **kw)
        self.sdf.add_pd(pd)
        return pd

    def mr(self, name, size, **kw):
        mr = MR(self.sdf, name, size, **kw)
        self.sdf.add_mr(mr)
        return mr

    def channel(self, a, b, **kw):
        self.sdf.add_channel(Channel(a, b, **kw))


# ---------------------------------------------------------------- valid ----


def ok_pods(s):
    """Active clients pp-call passive pods of higher priority (nested: crypt
    pp-calls checksum), bulk data lent through shared regions whose address
    and size reach both ends through setvars; plain notifications to a
    low-priority reporter."""
    a = s.pd("client_a", CLIENT, priority=20, budget=2000, period=10000)
    b = s.pd("client_b", CLIENT, priority=10, budget=1000, period=5000)
    crypt = s.pd("crypt", CRYPT, priority=110, passive=True)
    checksum = s.pd("checksum", CHECKSUM, priority=120, passive=True)
    report = s.pd("report", REPORT, priority=1)
    a_crypt = s.mr("a_crypt", 0x1000)
    b_crypt = s.mr("b_crypt", 0x2000)
    crypt_sum = s.mr("crypt_sum", 0x2000)
    a.add_map(Map(a_crypt, 0x400_0000, "rw", setvar_vaddr=vaddr_var(1), setvar_size=size_var(1)))
    b.add_map(Map(b_crypt, 0x400_0000, "rw", setvar_vaddr=vaddr_var(1), setvar_size=size_var(1)))
    crypt.add_map(Map(a_crypt, 0x400_0000, "rw", setvar_vaddr=vaddr_var(0), setvar_size=size_var(0)))
    crypt.add_map(Map(b_crypt, 0x400_2000, "rw", setvar_vaddr=vaddr_var(1), setvar_size=size_var(1)))
    crypt.add_map(Map(crypt_sum, 0x400_4000, "rw", setvar_vaddr=vaddr_var(3), setvar_size=size_var(3)))
    checksum.add_map(Map(crypt_sum, 0x400_0000, "r", setvar_vaddr=vaddr_var(0), setvar_size=size_var(0)))
    s.channel(a, crypt, a_id=1, b_id=0, pp_a=True, notify_a=False, notify_b=False)
    s.channel(b, crypt, a_id=1, b_id=1, pp_a=True, notify_a=False, notify_b=False)
    s.channel(crypt, checksum, a_id=3, b_id=0, pp_a=True, notify_a=False, notify_b=False)
    # The callee on the b end (pp_b): checksum is still the higher priority.
    s.channel(checksum, a, a_id=2, b_id=3, pp_b=True, notify_a=False, notify_b=False)
    s.channel(a, report, a_id=0, b_id=0)
    s.channel(b, report, a_id=0, b_id=1)


def ok_children(s):
    """A PD with child PDs at explicit ids (1, 7, the highest 61) and a
    grandchild; channels between parent and children, and a pp call from one
    child into a passive sibling of higher priority."""
    parent = s.pd("supervisor", REPORT, priority=200)
    worker = PD("worker", CLIENT, priority=150, budget=1000, period=2000)
    pod = PD("pod", CRYPT, priority=180, passive=True)
    leaf = PD("leaf", CHECKSUM, priority=100)
    grandchild = PD("grandchild", REPORT, priority=90)
    assert parent.add_child_pd(worker, child_id=1) == 1
    assert parent.add_child_pd(pod, child_id=61) == 61
    assert parent.add_child_pd(leaf, child_id=7) == 7
    assert worker.add_child_pd(grandchild, child_id=3) == 3
    s.channel(parent, worker, a_id=5, b_id=0)
    s.channel(worker, pod, a_id=1, b_id=0, pp_a=True, notify_a=False)
    s.channel(parent, leaf, a_id=6, b_id=0)
    s.channel(worker, grandchild, a_id=2, b_id=0)


def ok_channels(s):
    """Channels with explicit ids on both ends: the extremes 0 and 61,
    notify switched off on either end, pp either way round."""
    a = s.pd("alpha", CLIENT, priority=10)
    b = s.pd("beta", REPORT, priority=20)
    c = s.pd("gamma", CHECKSUM, priority=30)
    s.channel(a, b, a_id=0, b_id=61)
    s.channel(a, c, a_id=61, b_id=0, notify_a=False)
    s.channel(b, c, a_id=30, b_id=31, pp_a=True)
    s.channel(c, a, a_id=17, b_id=18, notify_b=False)
    s.channel(c, b, a_id=40, b_id=41, notify_a=False, notify_b=False)
    s.channel(c, a, a_id=2, b_id=1, pp_b=True)


def ok_setvars(s):
    """Memory regions mapped with setvar_vaddr and setvar_size, with either
    alone, uncached, read-only and executable, a 64 KiB region and a device
    region at a fixed physical address (the PL011 UART on qemu_virt_aarch64)."""
    m = s.pd("mapper", CLIENT, priority=50)
    peer = s.pd("peer", REPORT, priority=40)
    small = s.mr("small", 0x1000)
    big = s.mr("big", 0x10000)
    raw = s.mr("raw", 0x1000)
    code = s.mr("code", 0x1000)
    sizeonly = s.mr("sizeonly", 0x3000)
    m.add_map(Map(small, 0x400_0000, "rw", setvar_vaddr=vaddr_var(0), setvar_size=size_var(0)))
    m.add_map(Map(big, 0x500_0000, "r", setvar_vaddr=vaddr_var(1)))
    m.add_map(Map(raw, 0x600_0000, "rw", cached=False, setvar_vaddr=vaddr_var(2), setvar_size=size_var(2)))
    m.add_map(Map(code, 0x700_0000, "rx"))
    m.add_map(Map(sizeonly, 0x800_0000, "r", setvar_size=size_var(4)))
    peer.add_map(Map(small, 0x1000_0000, "r", setvar_vaddr=vaddr_var(61), setvar_size=size_var(61)))
    peer.add_map(Map(big, 0x1001_0000, "rw", setvar_vaddr=vaddr_var(5), setvar_size=size_var(5)))
    if not s.x86:
        uart = s.mr("uart", 0x1000, paddr=0x900_0000)
        m.add_map(Map(uart, 0x900_0000, "rw", cached=False, setvar_vaddr=vaddr_var(3), setvar_size=size_var(3)))
    s.channel(m, peer, a_id=0, b_id=0)


def ok_irq(s):
    """A driver with interrupts: ARM IRQs (level and edge) on
    qemu_virt_aarch64; an IOAPIC and an MSI interrupt and two I/O port ranges
    on x86_64_generic. Ids are explicit and distinct from the channel's."""
    drv = s.pd("driver", REPORT, priority=200)
    client = s.pd("client", CLIENT, priority=100)
    if s.x86:
        assert drv.add_irq(SD.IrqIoapic(0, 4, 36, trigger=SD.IrqIoapic.Trigger.EDGE, id=3)) == 3
        assert drv.add_irq(SD.IrqMsi(0, 3, 0, 40, 0, id=4)) == 4
        assert drv.add_ioport(SD.IoPort(0x3F8, 8, id=5)) == 5
        assert drv.add_ioport(SD.IoPort(0x2F8, 8, id=6)) == 6
    else:
        assert drv.add_irq(SD.IrqConventional(33, trigger=SD.IrqConventional.Trigger.LEVEL, id=3)) == 3
        assert drv.add_irq(SD.IrqConventional(79, trigger=SD.IrqConventional.Trigger.EDGE, id=4)) == 4
    s.channel(drv, client, a_id=0, b_id=0)


# -------------------------------------------------------------- invalid ----


def two_pds(s, pa=10, pb=20):
    return s.pd("a", CLIENT, priority=pa), s.pd("b", REPORT, priority=pb)


def bad_pp_lower(s):
    """pp call to a PD of lower priority."""
    client = s.pd("client", CLIENT, priority=50)
    server = s.pd("server", CRYPT, priority=10, passive=True)
    s.channel(client, server, a_id=1, b_id=0, pp_a=True)


def bad_pp_equal(s):
    """pp call to a PD of the same priority."""
    a, b = two_pds(s, 30, 30)
    s.channel(a, b, a_id=0, b_id=0, pp_b=True)


def bad_map_overlap(s):
    """Two maps of one PD overlap (0x4000000..0x4002000 and 0x4001000..)."""
    a, _ = two_pds(s)
    m = s.mr("m", 0x2000)
    a.add_map(Map(m, 0x400_0000, "r", setvar_vaddr=vaddr_var(0)))
    a.add_map(Map(m, 0x400_1000, "r", setvar_vaddr=vaddr_var(1)))


def bad_map_vaddr_align(s):
    """A map at an address that is not page aligned."""
    a, _ = two_pds(s)
    a.add_map(Map(s.mr("m", 0x1000), 0x400_0800, "rw"))


def bad_map_mr_unknown(s):
    """A map of a region the system does not declare."""
    a, _ = two_pds(s)
    a.add_map(Map(MR(s.sdf, "undeclared", 0x1000), 0x400_0000, "rw"))


def bad_map_elf_overlap(s):
    """A map over the program image's segments (loaded at 0x200000)."""
    a, _ = two_pds(s)
    a.add_map(Map(s.mr("m", 0x1000), 0x20_0000, "rw"))


def bad_map_stack(s):
    """A map reaching the bottom of the PD's (default, 0x2000) stack."""
    a, _ = two_pds(s)
    a.add_map(Map(s.mr("m", 0x1000), s.stack_bottom, "rw"))


def bad_mr_size(s):
    """A region whose size is not a multiple of the page size."""
    a, _ = two_pds(s)
    a.add_map(Map(s.mr("m", 0x1800), 0x400_0000, "rw"))


def bad_mr_size_zero(s):
    """A region of size 0."""
    a, _ = two_pds(s)
    a.add_map(Map(s.mr("m", 0), 0x400_0000, "rw"))


def bad_mr_name_duplicate(s):
    """Two regions with one name."""
    a, _ = two_pds(s)
    a.add_map(Map(s.mr("m", 0x1000), 0x400_0000, "rw"))
    s.mr("m", 0x2000)


def bad_pd_name_duplicate(s):
    """Two PDs with one name."""
    two_pds(s)
    s.pd("a", CHECKSUM, priority=5)


def bad_child_name_duplicate(s):
    """A child PD with the name of a top-level PD."""
    a, _ = two_pds(s)
    a.add_child_pd(PD("b", CHECKSUM, priority=5), child_id=1)


def bad_pd_name_monitor(s):
    """A PD named `monitor` (the tool's own)."""
    two_pds(s)
    s.pd("monitor", CHECKSUM, priority=5)


def bad_priority(s):
    """Priority 255 (at most 254)."""
    two_pds(s)
    s.pd("c", CHECKSUM, priority=255)


def bad_budget_period(s):
    """budget > period."""
    two_pds(s)
    s.pd("c", CHECKSUM, priority=5, budget=5000, period=1000)


def bad_stack_size(s):
    """stack_size not a multiple of 0x1000."""
    two_pds(s)
    s.pd("c", CHECKSUM, priority=5, stack_size=0x1001)


def bad_cpu(s):
    """A PD on core 1 of the single-core debug kernel."""
    two_pds(s)
    s.pd("c", CHECKSUM, priority=5, cpu=1)


def bad_too_many_pds(s):
    """64 PDs (at most 63)."""
    for i in range(64):
        s.pd(f"pd{i}", REPORT, priority=1 + i)


def bad_setvar_symbol(s):
    """A setvar naming a symbol the image does not have."""
    a, _ = two_pds(s)
    a.add_map(Map(s.mr("m", 0x1000), 0x400_0000, "rw", setvar_vaddr="no_such_symbol"))


def bad_image_missing(s):
    """A program image that is not on the search path."""
    two_pds(s)
    s.pd("c", "no-such-image.elf", priority=5)


def bad_irq_number_duplicate(s):
    """One hardware interrupt claimed by two PDs (ARM: IRQ number 40; x86: an
    IOAPIC interrupt with the same pin and vector)."""
    a, b = two_pds(s)
    for pd in (a, b):
        irq = SD.IrqIoapic(0, 4, 36, id=9) if s.x86 else SD.IrqConventional(40, id=9)
        pd.add_irq(irq)


def bad_ioport_overlap(s):
    """x86: two I/O port ranges of one PD overlap."""
    a, _ = two_pds(s)
    a.add_ioport(SD.IoPort(0x3F8, 8, id=1))
    a.add_ioport(SD.IoPort(0x3FC, 8, id=2))


def bad_x86_irq_on_arm(s):
    """aarch64: an IOAPIC interrupt (an x86-only form)."""
    a, _ = two_pds(s)
    a.add_irq(SD.IrqIoapic(0, 4, 36, id=1))


def bad_ioport_on_arm(s):
    """aarch64: an I/O port (x86 only)."""
    a, _ = two_pds(s)
    a.add_ioport(SD.IoPort(0x3F8, 8, id=1))


def bad_setvar_symbol_size(s):
    """A setvar naming a symbol that is not 8 bytes (`microkit_name`, 64)."""
    a, _ = two_pds(s)
    a.add_map(Map(s.mr("m", 0x1000), 0x400_0000, "rw", setvar_vaddr="microkit_name"))


def bad_irq_vector_range(s):
    """x86: an IOAPIC interrupt with vector 300 (the tool allows 0..=107)."""
    a, _ = two_pds(s)
    a.add_irq(SD.IrqIoapic(0, 4, 300, id=1))


def bad_msi_pci_device(s):
    """x86: an MSI interrupt of PCI device 40 (at most 31)."""
    a, _ = two_pds(s)
    a.add_irq(SD.IrqMsi(0, 40, 0, 40, 0, id=1))


def bad_ioport_size_zero(s):
    """x86: an I/O port range of size 0."""
    a, _ = two_pds(s)
    a.add_ioport(SD.IoPort(0x3F8, 0, id=1))


def bad_ioport_shared(s):
    """x86: one I/O port range given to two PDs."""
    a, b = two_pds(s)
    a.add_ioport(SD.IoPort(0x3F8, 8, id=1))
    b.add_ioport(SD.IoPort(0x3F8, 8, id=1))


def bad_irq_vector_duplicate(s):
    """x86: an MSI and an IOAPIC interrupt (other pin) with the same vector
    in two PDs (the tool numbers x86 interrupts by vector)."""
    a, b = two_pds(s)
    a.add_irq(SD.IrqMsi(0, 3, 0, 40, 0, id=1))
    b.add_irq(SD.IrqIoapic(0, 5, 40, id=1))


def ok_ioapic_pins(s):
    """x86: two PDs with IOAPIC interrupts on the same pin but different
    vectors, and on IOAPIC 1 (the tool numbers x86 interrupts by vector and
    accepts these)."""
    a, b = two_pds(s)
    a.add_irq(SD.IrqIoapic(0, 4, 36, id=1))
    b.add_irq(SD.IrqIoapic(0, 4, 37, id=1))
    b.add_irq(SD.IrqIoapic(1, 2, 38, trigger=SD.IrqIoapic.Trigger.LEVEL, polarity=SD.IrqIoapic.Polarity.ACTIVELOW, id=2))


# (function, expectation, substring of the tool's error, boards (None: all)).
SYSTEMS = [
    (ok_pods, "valid", None, None),
    (ok_children, "valid", None, None),
    (ok_channels, "valid", None, None),
    (ok_setvars, "valid", None, None),
    (ok_irq, "valid", None, None),
    (ok_ioapic_pins, "valid", None, ["x86_64_generic"]),
    (bad_pp_lower, "invalid", "PPCs must be to protection domains of strictly higher priorities", None),
    (bad_pp_equal, "invalid", "PPCs must be to protection domains of strictly higher priorities", None),
    (bad_map_overlap, "invalid", "overlaps with map for 'm'", None),
    (bad_map_vaddr_align, "invalid", "invalid vaddr alignment", None),
    (bad_map_mr_unknown, "invalid", "invalid memory region name 'undeclared'", None),
    (bad_map_elf_overlap, "invalid", "will overlap with an ELF segment", None),
    (bad_map_stack, "invalid", "must be less than", None),
    (bad_mr_size, "invalid", "size is not a multiple of the page size", None),
    (bad_mr_size_zero, "invalid", "panicked", None),
    (bad_mr_name_duplicate, "invalid", "duplicate memory region name 'm'", None),
    (bad_pd_name_duplicate, "invalid", "duplicate protection domain name 'a'", None),
    (bad_child_name_duplicate, "invalid", "duplicate protection domain name 'b'", None),
    (bad_pd_name_monitor, "invalid", "reserved for the Microkit Monitor", None),
    (bad_priority, "invalid", "priority must be between 0 and 254", None),
    (bad_budget_period, "invalid", "must be less than, or equal to, period", None),
    (bad_stack_size, "invalid", "stack size must be aligned", None),
    (bad_cpu, "invalid", "cpu core must be less than 1", None),
    (bad_too_many_pds, "invalid", "too many protection domains (64)", None),
    (bad_setvar_symbol, "invalid", "no symbol named 'no_such_symbol'", None),
    (bad_setvar_symbol_size, "invalid", "setvar to non-word size symbol 'microkit_name'", None),
    (bad_image_missing, "invalid", "unable to find program image: 'no-such-image.elf'", None),
    (bad_irq_number_duplicate, "invalid", "duplicate irq", None),
    (bad_ioport_overlap, "invalid", "overlaps with I/O port id: 1", ["x86_64_generic"]),
    (bad_irq_vector_range, "invalid", "vector must be within [0..107]", ["x86_64_generic"]),
    (bad_msi_pci_device, "invalid", "PCI device must be within [0..31]", ["x86_64_generic"]),
    (bad_ioport_size_zero, "invalid", "size must be > 0", ["x86_64_generic"]),
    (bad_ioport_shared, "invalid", "overlaps with I/O port id: 1", ["x86_64_generic"]),
    (bad_irq_vector_duplicate, "invalid", "duplicate irq: 40", ["x86_64_generic"]),
    (bad_x86_irq_on_arm, "invalid", "I/O APIC IRQ isn't supported on ARM", ["qemu_virt_aarch64"]),
    (bad_ioport_on_arm, "invalid", "I/O Ports are only available on x86", ["qemu_virt_aarch64"]),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--board", required=True, choices=sorted(BOARDS))
    ap.add_argument("outdir")
    args = ap.parse_args()
    os.makedirs(args.outdir, exist_ok=True)
    manifest = []
    for fn, expect, tool, boards in SYSTEMS:
        if boards is not None and args.board not in boards:
            continue
        name = fn.__name__.replace("_", "-")
        s = System(args.board)
        fn(s)
        file = f"{name}.xml"
        with open(os.path.join(args.outdir, file), "w", encoding="utf-8") as f:
            f.write(s.sdf.render())
        what = " ".join(fn.__doc__.split())
        manifest.append({"name": name, "file": file, "expect": expect, "tool": tool, "what": what})
    with open(os.path.join(args.outdir, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1)
    print(f"render.py: {len(manifest)} systems for {args.board} in {args.outdir}")
    sys.stdout.flush()
    # sdfgen's objects free their C halves in __del__, in an order that can
    # crash at interpreter exit; everything is written, so leave at once.
    os._exit(0)


if __name__ == "__main__":
    main()
