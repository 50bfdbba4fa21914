//! Fuzz target over the model-based driver of tests/model.rs: the fuzzer's
//! bytes become a queue shape and a sequence of operations, run on a real
//! kernel queue and checked against the in-memory model.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/model/driver.rs"]
mod driver;

fuzz_target!(|data: &[u8]| {
    let (cap, size, ops) = driver::decode(data);
    if let Err(e) = driver::run(cap, size, &ops) {
        panic!("cap {cap} size {size}: {e}\nops: {ops:?}");
    }
});
