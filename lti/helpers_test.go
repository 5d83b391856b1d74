package lti_test

import (
	"encoding/base64"

	"github.com/laurel-edu/laurel/lti/ltitest"
)

var (
	mustQuery     = ltitest.MustQuery
	assertRefused = ltitest.AssertRefused
)

func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
