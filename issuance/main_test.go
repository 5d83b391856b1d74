package issuance_test

import (
	"os"
	"testing"

	"github.com/laurel-edu/laurel/internal/testenv"
)

// TestMain is the one TestMain of the issuance test binary (internal and
// external test files share it).
func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }
