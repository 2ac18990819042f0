#![no_main]
// Placeholder: replaced by the work item that owns this target.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = data;
});
