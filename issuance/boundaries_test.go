package issuance_test

import (
	"testing"

	"github.com/laurel-edu/laurel/internal/testenv/boundary"
)

// Each room of issuance reads and writes only its own tables: the others'
// rows go through their owner's Go API (the core's BulkCreate and Holders
// for imports, audit.InsertSelect for the audit log, internal/jobs for
// jobs), and the surfaces on top own none.
func TestIssuanceRoomsTouchOnlyTheirTables(t *testing.T) {
	for _, room := range []struct {
		dir string
		own []string
	}{
		{".", []string{"designs", "groups", "credentials", "credential_emails", "publish_runs", "bulk_runs", "organisation", "credential_staging", "publish_schedules",
			"reminder_settings", "credential_reminders", "renewal_requests", "attributes", "group_images"}},
		{"imports", []string{"imports", "import_rows", "import_chunks", "import_mappings"}},
		{"updates", []string{"credential_updates", "credential_update_rows"}},
		{"signing", []string{"credential_signatures", "credential_keys", "status_lists"}},
		{"wallet", []string{"wallet_group_settings", "wallet_offers", "wallet_tokens", "wallet_claims"}},
		{"recipient", []string{"recipient_links", "recipient_hidden", "name_corrections", "recipient_mails"}},
		{"delivery", nil},
		{"public", nil},
		{"staff", nil},
		{"api", nil},
		{"sheet", nil},
		{"openbadges", nil},
		{"baking", nil},
		{"certpdf", nil},
		{"svgcheck", nil},
		{"internal/staffui", nil},
		{"insight", []string{"insight_daily", "insight_totals", "insight_flushes"}},
	} {
		own := map[string]bool{}
		for _, tb := range room.own {
			own[tb] = true
		}
		tables := boundary.SQLTables(t, room.dir)
		if len(room.own) > 0 && len(tables) == 0 {
			t.Errorf("no SQL found in %s: the scan is broken", room.dir)
		}
		for table, where := range tables {
			if !own[table] {
				t.Errorf("%s names table %s (owned by another package) at %v", room.dir, table, where)
			}
		}
	}
}
