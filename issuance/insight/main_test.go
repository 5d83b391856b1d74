package insight_test

import (
	"os"
	"testing"

	"github.com/laurel-edu/laurel/internal/testenv"
)

// TestMain starts the test services (PostgreSQL, Redis) once for the binary.
func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }
