//! The panic handler: prints the PD's name and the panic location, then stops
//! the PD with a fault so its fault handler (the monitor or a parent) sees it.

use core::panic::PanicInfo;

#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    let name = crate::pd_name();
    match info.location() {
        Some(loc) => crate::debug_println!(
            "tunnelkit: PD '{}' panicked at {}:{}:{}: {}",
            name.as_str(),
            loc.file(),
            loc.line(),
            loc.column(),
            info.message()
        ),
        None => crate::debug_println!("tunnelkit: PD '{}' panicked: {}", name.as_str(), info.message()),
    }
    tunnelkit_sys::syscall::fault_now()
}
