/* fuzz_audit and fuzz_alert: a request on the audit-service's ROUTER
 * (docs/protocol.md, section 9: SearchAudit besides Status and Rebuild) or
 * on the alert-service's API ROUTER (section 10: ListAlerts besides Status
 * and Rebuild), answered as the daemon answers it: the subscriber runtime's
 * control dispatcher (subscriber_handle_control) hands the daemon's own
 * type to its handler (auditapi_handle, alertapi_handle), whose parameters
 * are decoded by params against the daemon's model in a scratch folder
 * that holds the story (fuzz.h).  One source, built once per daemon
 * (FUZZ_API_AUDIT or FUZZ_API_ALERT, tests/fuzz/CMakeLists.txt). */
#include "fuzzsub.h"

#include <stddef.h>
#include <stdint.h>

#if defined(FUZZ_API_AUDIT)
#include "auditapi.h"
#include "auditlog.h"
typedef auditlog_t api_model_t;
#define API_NAME "audit"
#define API_FILE "audit.db"
#define API_OPS auditlog_ops
#define API_OPEN auditlog_open
#define API_HANDLE auditapi_handle
#elif defined(FUZZ_API_ALERT)
#include "alertapi.h"
#include "alerts.h"
typedef alerts_t api_model_t;
#define API_NAME "alert"
#define API_FILE "alerts.db"
#define API_OPS alerts_ops
#define API_OPEN alerts_open
#define API_HANDLE alertapi_handle
#else
#error "define FUZZ_API_AUDIT or FUZZ_API_ALERT"
#endif

static subscriber_t *sub;
static api_model_t *model;
static codec_writer_t w;

FUZZ_SETUP

static void
fuzz_setup(void)
{
    const char *why;
    model = API_OPEN(fuzz_path(API_FILE), NULL, &why);
    fuzz_seed_model(&API_OPS, model, FUZZ_STORY_MAX);
    sub = fuzz_control_runtime(API_NAME, &API_OPS, model, API_HANDLE, &model);
    codec_writer_init(&w);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_feed_control(sub, &w, data, size);
}
