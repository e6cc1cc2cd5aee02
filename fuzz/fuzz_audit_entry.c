/*
 * Fuzz target: audit_entry_decode(), which every reader of the audit log
 * runs on stored leaves (audit verify, the access log, trace, exports).
 * The encoding is canonical (src/audit/entry.c): a leaf that decodes must
 * encode back to exactly the same bytes.
 */
#include "fuzz.h"

#include "audit/audit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct buf scratch = BUF_INIT, again = BUF_INIT;
    struct audit_entry e;

    memset(&e, 0, sizeof(e));
    if (audit_entry_decode(data, size, &e, &scratch) == CU_OK) {
        FUZZ_CHECK(audit_action_name(e.action) != NULL);
        FUZZ_CHECK(audit_decision_name(e.decision) != NULL);
        FUZZ_CHECK(audit_action_from_name(audit_action_name(e.action)) == e.action);
        FUZZ_CHECK(audit_entry_encode(&e, &again) == CU_OK);
        FUZZ_CHECK(again.len == size && memcmp(again.data, data, size) == 0);
    } else {
        FUZZ_CHECK(scratch.len == 0);
    }
    buf_release(&scratch);
    buf_release(&again);
    return 0;
}
