// Device-to-host reads that do not block the JavaScript thread: the copy is queued on the backend's stream into a
// pinned staging buffer behind an event, the caller polls the event, then takes the bytes. Work queued after the
// read starts does not delay it, so a pipeline can read frame N while the GPU computes frame N + 1.
#pragma once
#include <cstddef>

#include "context.h"

namespace tfjs_delta {

// Queues the copy of `bytes` from `src`; returns the read's ticket.
int readBegin(Context& c, const void* src, size_t bytes);
// Whether the copy of `ticket` has finished (throws on an unknown ticket or a failed copy).
bool readReady(int ticket);
// Copies the read's bytes into `out` (exactly the bytes it was begun with; waits if it is still running) and
// releases the ticket.
void readFinish(int ticket, void* out, size_t bytes);
// Waits for the copy of `ticket` (ignoring its errors) and releases it: for a caller that will not finish it.
void readCancel(int ticket);
// Pinned staging bytes held for later reads (reported with the allocator's figures).
size_t readStagingBytes();

}  // namespace tfjs_delta
