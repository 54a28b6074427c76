#pragma once
// Gives freed heap memory back to the operating system. glibc keeps freed chunks (and, once a
// large block has been freed, serves later large blocks from the heap instead of mmap), so a
// process that once held a gigabyte of queued messages keeps that RSS after the queues drain
// unless asked to trim.

namespace musqratt::util {

/// Returns free pages to the kernel (mimalloc when linked: mi_collect; glibc: malloc_trim(0));
/// a no-op where neither is there. Costs a walk over the free lists: call it after
/// large frees, not per message. Thread: any.
void release_free_memory();

/// mimalloc keeps a heap per thread, and a block freed by another thread goes back to its
/// owner's heap only when the owner collects. release_free_memory() therefore also asks every
/// thread that calls this now and then (the workers, each tick) to collect its own heap: one
/// atomic load when nothing was asked. Thread: the calling thread's heap.
void release_free_memory_if_asked();

/// Called once at start-up: blocks of 1 MiB or more (large packets being received, big
/// messages) get mappings of their own, so their memory goes back to the system when freed.
void keep_large_blocks_apart();

}  // namespace musqratt::util
