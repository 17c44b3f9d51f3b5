package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/domain"
)

var _ commands.Users = (*Users)(nil)

// Users stores accounts in the users table. Emails are stored lower-cased
// and compared case-insensitively; a unique index on lower(email) makes
// two concurrent sign-ups with one address fail for all but one.
type Users struct {
	pool *pgxpool.Pool
}

// NewUsers returns Users backed by pool.
func NewUsers(pool *pgxpool.Pool) *Users {
	return &Users{pool: pool}
}

// Create stores u with its email lower-cased. It fails with
// commands.ErrEmailTaken when the email is registered already.
func (s *Users) Create(ctx context.Context, u commands.User) error {
	// lower() in SQL, not strings.ToLower, so that the stored email agrees
	// with the unique index and with ByEmail for every character.
	_, err := s.pool.Exec(ctx, `
		insert into users (id, email, password_hash, role, created_at)
		values ($1, lower($2), $3, $4, $5)`,
		u.ID, u.Email, u.PasswordHash, string(u.Role), u.CreatedAt)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == "users_email_key" {
		return fmt.Errorf("create user: %w", commands.ErrEmailTaken)
	}
	if err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	return nil
}

// ByEmail returns the user with email, compared case-insensitively, or
// commands.ErrUserNotFound.
func (s *Users) ByEmail(ctx context.Context, email string) (commands.User, error) {
	// No stored email holds what text cannot (U+0000, bytes that are not
	// UTF-8); sent as a parameter, it would fail the query instead.
	if !domain.StorableText(email) {
		return commands.User{}, fmt.Errorf("user by email: %w", commands.ErrUserNotFound)
	}
	var (
		u    commands.User
		role string
	)
	err := s.pool.QueryRow(ctx, `
		select id, email, password_hash, role, created_at
		from users where lower(email) = lower($1)`, email).
		Scan(&u.ID, &u.Email, &u.PasswordHash, &role, &u.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return commands.User{}, fmt.Errorf("user by email: %w", commands.ErrUserNotFound)
	}
	if err != nil {
		return commands.User{}, fmt.Errorf("user by email: %w", err)
	}
	u.Role = domain.Role(role)
	return u, nil
}

// Role returns the role of the user with id as it is now, or
// commands.ErrUserNotFound.
func (s *Users) Role(ctx context.Context, id uuid.UUID) (domain.Role, error) {
	var role string
	err := s.pool.QueryRow(ctx, `select role from users where id = $1`, id).Scan(&role)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("user role: %w", commands.ErrUserNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("user role: %w", err)
	}
	return domain.Role(role), nil
}
