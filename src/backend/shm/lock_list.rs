//! The slow path of a robust lock's release: the thread's robust list
//! changed under a held lock, so the lock's node is found and bypassed by
//! walking the list, every link read through `process_vm_readv` (a bad
//! address is an error, never a fault).

use super::{ListHead, LIST_LIMIT};

/// Reads one pointer-sized word at `addr` of this process without faulting
/// (None for an address that is not mapped readable).
pub(super) fn probe(addr: usize) -> Option<usize> {
    if addr % std::mem::align_of::<usize>() != 0 || addr == 0 {
        return None;
    }
    let mut out: usize = 0;
    let local = libc::iovec {
        iov_base: (&mut out as *mut usize).cast(),
        iov_len: std::mem::size_of::<usize>(),
    };
    let remote = libc::iovec {
        iov_base: addr as *mut libc::c_void,
        iov_len: std::mem::size_of::<usize>(),
    };
    // SAFETY: reads from our own process into `out`; the kernel checks the
    // remote address and returns an error for an unmapped one.
    let n = unsafe { libc::process_vm_readv(libc::getpid(), &local, 1, &remote, 1, 0) };
    (n == std::mem::size_of::<usize>() as isize).then_some(out)
}

/// The list changed under a held lock (something took or released a libc
/// robust mutex in between, or the node's words were scribbled): find the
/// link that names `node` and bypass it, reading every link through
/// [`probe`]. What follows the node is `below` (our own copy) unless the
/// file's word names the head, or an entry whose prev word names our node:
/// what the libc leaves when it unlinks `below` (it moves below's
/// successor up to us, points that successor's prev at us, and clears
/// below's words). Any other value is a scribble and is not used. A list
/// that cannot be read is left as it is (the kernel's own walk stops at a
/// bad link too).
#[cold]
#[inline(never)]
pub(super) fn unlink_slow(head: &mut ListHead, node: usize, below: usize) {
    let head_addr = head as *mut ListHead as usize;
    let after = match probe(node) {
        Some(f) if f == below || f & !1 == head_addr => f,
        Some(f) if f & !1 != node && probe((f & !1).wrapping_sub(8)) == Some(node) => f,
        _ => below,
    };
    if head.next & !1 == node {
        head.next = after;
        fix_prev(after, head_addr, head_addr);
        return;
    }
    let mut link = head.next & !1;
    for _ in 0..LIST_LIMIT {
        if link == head_addr {
            return; // not in the list
        }
        let Some(next) = probe(link) else { return };
        if next & !1 == node {
            // SAFETY: `link` is an entry of this thread's list whose next
            // word just read back through the kernel.
            unsafe { std::ptr::write_unaligned(link as *mut usize, after) };
            fix_prev(after, link, head_addr);
            return;
        }
        link = next & !1;
    }
}

/// Points the prev word of `entry` (an entry after an unlinked one) at
/// `prev`, when it is readable and not the head.
fn fix_prev(entry: usize, prev: usize, head_addr: usize) {
    let e = entry & !1;
    if e != head_addr && probe(e - 8).is_some() {
        // SAFETY: a readable, aligned word just below a list entry: its
        // prev (glibc and this lock keep it there).
        unsafe { std::ptr::write_unaligned((e - 8) as *mut usize, prev) };
    }
}
