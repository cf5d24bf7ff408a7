//! Filter pod: admits a classified frame if a rule allows its class. The
//! rules come from the system description: a memory region prefilled from a
//! rules file (`allow arp`, `allow icmp`, `allow udp <port>`), mapped here
//! with `setvar_vaddr="rules_vaddr" setvar_prefill_size="rules_len"`. One
//! instance per path, so each path's filtering runs on its own budget.
//!
//! Serves: `filter` on any channel.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use core::convert::Infallible;

use net_pods::{Admission, Admissions, BATCH, Verdict, Verdicts, filter};
use netstack::rules::Rules;
use tunnelkit_runtime::{
    Channel, ChannelSet, Handler, MessageInfo, SharedMemory, debug_println, pd_name, protection_domain, region_setvars,
};
use tunnelkit_tunnel::{CallError, Caller};

region_setvars!(
    /// Where the rules region is mapped.
    static rules_vaddr, rules_len
);

/// Largest rules file read.
const MAX_RULES_FILE: usize = 2048;

protection_domain!(init);

struct Filter {
    rules: Rules,
}

fn init() -> Filter {
    let len = (rules_len.get() as usize).min(MAX_RULES_FILE);
    let region =
        SharedMemory::from_setvars(&rules_vaddr, &rules_len).expect("the rules region must be mapped (setvar_vaddr, setvar_prefill_size)");
    let mut text = [0u8; MAX_RULES_FILE];
    region.read(0, &mut text[..len]).expect("rules inside their region");
    match Rules::parse(&text[..len]) {
        Ok(rules) => {
            debug_println!("{}: {} rules", pd_name().as_str(), rules.len());
            Filter { rules }
        }
        Err(e) => panic!("rules file {}:{}: {}", e.line, e.column, e.what),
    }
}

impl filter::Server for Filter {
    fn admit(&mut self, _caller: Caller, verdict: Verdict) -> Result<Admission, CallError> {
        Ok(match verdict.class().and_then(|c| self.rules.allows(c)) {
            Some(line) => Admission { allowed: 1, line },
            None => Admission { allowed: 0, line: 0 },
        })
    }

    fn admit_batch(&mut self, _caller: Caller, request: Verdicts) -> Result<Admissions, CallError> {
        let count = (request.count as usize).min(BATCH);
        let mut out = Admissions { allowed: 0, lines: [0; BATCH] };
        for (i, verdict) in request.verdicts[..count].iter().enumerate() {
            if let Some(line) = verdict.class().and_then(|c| self.rules.allows(c)) {
                out.allowed |= 1 << i;
                out.lines[i] = u16::try_from(line).unwrap_or(u16::MAX);
            }
        }
        Ok(out)
    }
}

impl Handler for Filter {
    type Error = Infallible;

    fn protected(&mut self, channel: Channel, msg_info: MessageInfo) -> Result<MessageInfo, Infallible> {
        Ok(filter::serve(self, channel, msg_info))
    }

    /// Async callers: answer what they queued.
    fn notified(&mut self, channels: ChannelSet) -> Result<(), Infallible> {
        filter::serve_notified(self, channels);
        Ok(())
    }
}
