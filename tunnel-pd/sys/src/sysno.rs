//! seL4 16.0.0 MCS system call numbers (generated numbering: the MCS API list
//! then every debug group, -1, -2, … in document order, whatever the config).

/// `seL4_Call`
pub const CALL: i64 = -1;
/// `seL4_ReplyRecv`
pub const REPLY_RECV: i64 = -2;
/// `seL4_NBSendRecv`
pub const NB_SEND_RECV: i64 = -3;
/// `seL4_NBSendWait`
pub const NB_SEND_WAIT: i64 = -4;
/// `seL4_Send`
pub const SEND: i64 = -5;
/// `seL4_NBSend`
pub const NB_SEND: i64 = -6;
/// `seL4_Recv`
pub const RECV: i64 = -7;
/// `seL4_NBRecv`
pub const NB_RECV: i64 = -8;
/// `seL4_Wait`
pub const WAIT: i64 = -9;
/// `seL4_NBWait`
pub const NB_WAIT: i64 = -10;
/// `seL4_Yield`
pub const YIELD: i64 = -11;
/// `seL4_DebugPutChar` (`CONFIG_PRINTING`, Microkit `debug` only)
pub const DEBUG_PUT_CHAR: i64 = -12;
/// `seL4_DebugSendIPI` (`CONFIG_DEBUG_BUILD` and SMP; ARM only).
pub const DEBUG_SEND_IPI: i64 = -18;
/// `seL4_DebugDumpScheduler` (`CONFIG_PRINTING`)
pub const DEBUG_DUMP_SCHEDULER: i64 = -13;
/// `seL4_DebugHalt` (`CONFIG_DEBUG_BUILD`)
pub const DEBUG_HALT: i64 = -14;
/// `seL4_BenchmarkResetLog` (`CONFIG_ENABLE_BENCHMARKS`)
pub const BENCHMARK_RESET_LOG: i64 = -22;
/// `seL4_BenchmarkFinalizeLog` (`CONFIG_ENABLE_BENCHMARKS`)
pub const BENCHMARK_FINALIZE_LOG: i64 = -23;
/// `seL4_BenchmarkNullSyscall` (`CONFIG_ENABLE_BENCHMARKS`)
pub const BENCHMARK_NULL_SYSCALL: i64 = -25;
/// `seL4_BenchmarkGetThreadUtilisation` (`CONFIG_BENCHMARK_TRACK_UTILISATION`)
pub const BENCHMARK_GET_THREAD_UTILISATION: i64 = -26;
/// `seL4_BenchmarkResetThreadUtilisation` (`CONFIG_BENCHMARK_TRACK_UTILISATION`)
pub const BENCHMARK_RESET_THREAD_UTILISATION: i64 = -27;
