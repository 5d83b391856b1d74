package db

import (
	"context"
	"database/sql"
	"sync"

	"github.com/jmoiron/sqlx"
)

// Statements runs the queries of a hot path (a launch, a webhook batch) as
// prepared statements. lib/pq runs a query with parameters as a prepare and
// then an execute, two round trips; a statement prepared once (database/sql
// prepares it again on each connection that needs it) is one round trip and
// is planned once per connection. A query that cannot be prepared (the
// database is away) runs as text, so its error is the query's own.
type Statements struct {
	db *sqlx.DB
	mu sync.Mutex
	m  map[string]*sqlx.Stmt
}

// NewStatements returns an empty set of statements on d.
func NewStatements(d *sqlx.DB) *Statements {
	return &Statements{db: d, m: map[string]*sqlx.Stmt{}}
}

// stmt is query's prepared statement, prepared on first use; nil when it
// cannot be prepared now.
func (s *Statements) stmt(ctx context.Context, query string) *sqlx.Stmt {
	s.mu.Lock()
	st, ok := s.m[query]
	s.mu.Unlock()
	if ok {
		return st
	}
	st, err := s.db.PreparexContext(ctx, query)
	if err != nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if prev, ok := s.m[query]; ok { // prepared meanwhile by another request
		st.Close()
		return prev
	}
	s.m[query] = st
	return st
}

// GetContext is sqlx's GetContext through the prepared statement.
func (s *Statements) GetContext(ctx context.Context, dest any, query string, args ...any) error {
	if st := s.stmt(ctx, query); st != nil {
		return st.GetContext(ctx, dest, args...)
	}
	return s.db.GetContext(ctx, dest, query, args...)
}

// QueryRowxContext is sqlx's QueryRowxContext through the prepared statement.
func (s *Statements) QueryRowxContext(ctx context.Context, query string, args ...any) *sqlx.Row {
	if st := s.stmt(ctx, query); st != nil {
		return st.QueryRowxContext(ctx, args...)
	}
	return s.db.QueryRowxContext(ctx, query, args...)
}

// ExecContext is database/sql's ExecContext through the prepared statement.
func (s *Statements) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := s.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return s.db.ExecContext(ctx, query, args...)
}

// QueryContext is database/sql's QueryContext through the prepared statement.
func (s *Statements) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := s.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return s.db.QueryContext(ctx, query, args...)
}

// TxQueryContext is database/sql's QueryContext in tx through the prepared
// statement (prepared on tx's connection if it is not yet).
func (s *Statements) TxQueryContext(ctx context.Context, tx *sqlx.Tx, query string, args ...any) (*sql.Rows, error) {
	if st := s.stmt(ctx, query); st != nil {
		return tx.StmtxContext(ctx, st).QueryContext(ctx, args...)
	}
	return tx.QueryContext(ctx, query, args...)
}
