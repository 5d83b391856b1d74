package web_test

import (
	"bytes"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/web"
)

// upload builds a multipart body with a text field and a file.
func upload(t *testing.T, field, file string) (string, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("date_order", field)
	fw, _ := mw.CreateFormFile("file", "cohort.csv")
	fw.Write([]byte(file))
	mw.Close()
	return mw.FormDataContentType(), &buf
}

// TestTextGuardIsTransparent: after TextGuard checked a signed-in upload,
// the handler reads the body exactly as before — streaming with
// MultipartReader, or parsing with its own MaxBytesReader limit — and a bad
// text field never reaches it.
func TestTextGuardIsTransparent(t *testing.T) {
	rd, err := web.NewRenderer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(func(c *gin.Context) { c.Set(web.UserKey, "someone") }, web.TextGuard(rd))
	file := strings.Repeat("Ada Lovelace,ada@example.edu,2026-01-02\n", 60000) // 2.4 MB: past the in-memory part
	r.POST("/stream", func(c *gin.Context) {
		mr, err := c.Request.MultipartReader()
		if err != nil {
			c.String(500, "MultipartReader: %v", err)
			return
		}
		var got bytes.Buffer
		for {
			p, err := mr.NextPart()
			if err != nil {
				break
			}
			if p.FormName() == "file" {
				io.Copy(&got, p)
			}
		}
		if got.String() != file {
			c.String(500, "file changed: %d bytes, want %d", got.Len(), len(file))
			return
		}
		c.String(200, "ok")
	})
	r.POST("/limited", func(c *gin.Context) {
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, 1<<20)
		err := c.Request.ParseMultipartForm(1 << 10)
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			c.String(413, "too large")
			return
		}
		c.String(200, "parsed: %v", err)
	})
	srv := httptest.NewServer(r)
	defer srv.Close()
	post := func(path, field, file string) (int, string) {
		ct, body := upload(t, field, file)
		resp, err := http.Post(srv.URL+path, ct, body)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if st, b := post("/stream", "DMY", file); st != 200 {
		t.Errorf("streaming handler after TextGuard: %d %s", st, b)
	}
	if st, b := post("/limited", "DMY", file); st != 413 {
		t.Errorf("handler's own size limit after TextGuard: %d %s, want its 413", st, b)
	}
	if st, b := post("/stream", "D\x00MY", "x"); st != 422 || !strings.Contains(b, "date_order") {
		t.Errorf("NUL in a multipart text field: %d %.300s, want 422 naming date_order", st, b)
	}
}

// TestDecodeJSONOverLimitIsTooLarge: a JSON body past the route's limit is
// 413 too_large (docs/api.md), not a 400.
func TestDecodeJSONOverLimitIsTooLarge(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.POST("/api/v1/things", web.API(func(c *gin.Context) error {
		var v map[string]any
		if err := web.DecodeJSON(c, &v, web.JSONOptions{MaxBytes: 64}); err != nil {
			return err
		}
		c.JSON(200, v)
		return nil
	}))
	post := func(body string) (int, string) {
		w := httptest.NewRecorder()
		req := httptest.NewRequest("POST", "/api/v1/things", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		r.ServeHTTP(w, req)
		return w.Code, w.Body.String()
	}
	if st, b := post(`{"a":"` + strings.Repeat("x", 100) + `"}`); st != 413 || !strings.Contains(b, `"code":"too_large"`) || !strings.Contains(b, "larger than") {
		t.Errorf("over the limit: %d %s, want 413 too_large", st, b)
	}
	if st, b := post(`{"a":"x"}`); st != 200 {
		t.Errorf("within the limit: %d %s, want 200", st, b)
	}
}
