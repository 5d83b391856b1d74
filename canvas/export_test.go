package canvas

import (
	"context"
	"github.com/laurel-edu/laurel/lti/course"
	"net/http"
	"time"
)

// The black-box tests drive what the app reaches through the job engine, the
// admin page and the launch hooks; these names exist for them only.

const (
	InboxJob       = inboxKind
	PruneJob       = pruneKind
	EventRetention = eventRetention
	SecretHeader   = secretHeader
)

var ExternalRef = externalRef

func NewClient(baseURL, token string, hc *http.Client, backoff time.Duration) (*Client, error) {
	return newClient(baseURL, token, hc, backoff)
}

func (c *Client) BulkUserProgress(ctx context.Context, courseID string) ([]userProgress, error) {
	return c.bulkUserProgress(ctx, courseID)
}

func (s *Service) RunInboxWorker(ctx context.Context) error { return s.runInboxWorker(ctx) }

func (s *Service) DevKey() devKeyConfig { return s.devKey() }

func (s *Service) SetWebhookSecret(ctx context.Context, platformID int64, secretValue string) error {
	return s.setWebhookSecret(ctx, platformID, secretValue)
}

func (s *Service) RememberUser(ctx context.Context, platformID int64, canvasUserID, sub, name, email string) error {
	return s.rememberUsers(ctx, []course.CanvasUser{{PlatformID: platformID, CanvasUserID: canvasUserID, Sub: sub, Name: name, Email: email}})
}

func (s *Service) PruneEvents(ctx context.Context, olderThan time.Duration) (int64, error) {
	return s.pruneEvents(ctx, olderThan)
}
