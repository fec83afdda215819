// Package auth signs people up and in, checks bearer tokens (session JWTs
// and API keys), and turns them into the viewer of a request.
package auth

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/clickback/clickback/ent"
	"github.com/clickback/clickback/ent/apikey"
	"github.com/clickback/clickback/ent/membership"
	"github.com/clickback/clickback/ent/user"
	"github.com/clickback/clickback/ratelimit"
	"github.com/clickback/clickback/viewer"
)

// Errors a client can act on. The GraphQL layer maps them to stable codes.
var (
	ErrUnauthenticated    = errors.New("missing, invalid or expired token")
	ErrInvalidCredentials = errors.New("wrong email or password")
	ErrRateLimited        = errors.New("too many attempts, try again later")
	ErrEmailTaken         = errors.New("a user with this email exists: log in instead")
)

// InputError is a problem with what the client sent, worded for a person.
type InputError struct{ Msg string }

func (e *InputError) Error() string { return e.Msg }

// Service holds what signup, login and authentication need.
type Service struct {
	Tokens *Tokens
	// Login attempts are limited per email (slow brute force on one
	// account) and per client IP (slow credential stuffing).
	emailLimit *ratelimit.Limiter
	ipLimit    *ratelimit.Limiter
}

// NewService returns a Service issuing tokens signed with jwtSecret.
func NewService(jwtSecret []byte) *Service {
	return &Service{
		Tokens:     NewTokens(jwtSecret, DefaultTokenTTL),
		emailLimit: ratelimit.New(1.0/10, 10, 100_000),
		ipLimit:    ratelimit.New(1, 30, 100_000),
	}
}

// Session is the result of a signup or login.
type Session struct {
	Token   string
	User    *ent.User
	Account *ent.Account
	Role    viewer.Role
}

// NormalizeEmail trims and lower-cases an email and checks its shape.
func NormalizeEmail(email string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(email))
	if len(e) > 254 {
		return "", &InputError{"email is too long"}
	}
	addr, err := mail.ParseAddress(e)
	if err != nil || addr.Address != e || !strings.Contains(e[strings.IndexByte(e, '@')+1:], ".") {
		return "", &InputError{fmt.Sprintf("%q is not an email address", email)}
	}
	return e, nil
}

// Signup creates a user, a new account and the user's OWNER membership
// through client, which should be a transaction's so that a failure leaves
// nothing behind.
func (s *Service) Signup(ctx context.Context, client *ent.Client, email, password, accountName string) (*Session, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return nil, err
	}
	if len(password) < MinPasswordLength {
		return nil, &InputError{fmt.Sprintf("password must have at least %d characters", MinPasswordLength)}
	}
	if len(password) > maxPasswordLength {
		return nil, &InputError{"password is too long"}
	}
	accountName = strings.TrimSpace(accountName)
	if accountName == "" || len(accountName) > 200 {
		return nil, &InputError{"account name must have 1 to 200 characters"}
	}
	hash, err := HashPassword(password)
	if err != nil {
		return nil, err
	}
	sys := viewer.SystemContext(ctx, "")
	u, err := client.User.Create().SetEmail(email).SetPasswordHash(hash).Save(sys)
	if ent.IsConstraintError(err) {
		return nil, ErrEmailTaken
	}
	if err != nil {
		return nil, fmt.Errorf("create user: %w", err)
	}
	acc, err := client.Account.Create().SetName(accountName).SetKey(NewPublicKey()).Save(sys)
	if err != nil {
		return nil, fmt.Errorf("create account: %w", err)
	}
	if _, err := client.Membership.Create().SetAccountID(acc.ID).SetUserID(u.ID).SetRole(viewer.RoleOwner).Save(sys); err != nil {
		return nil, fmt.Errorf("create membership: %w", err)
	}
	token, err := s.Tokens.Issue(u.ID, acc.ID)
	if err != nil {
		return nil, err
	}
	return &Session{Token: token, User: u, Account: acc, Role: viewer.RoleOwner}, nil
}

// Login checks a user's password and issues a token for one of their
// accounts: accountID when given, else the oldest membership. clientIP
// feeds the rate limit.
func (s *Service) Login(ctx context.Context, client *ent.Client, email, password, accountID, clientIP string) (*Session, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	if !s.ipLimit.Allow(clientIP) || !s.emailLimit.Allow(email) {
		return nil, ErrRateLimited
	}
	sys := viewer.SystemContext(ctx, "")
	u, err := client.User.Query().Where(user.Email(email)).Only(sys)
	if ent.IsNotFound(err) {
		_, _ = CheckPassword(dummyHash, password)
		return nil, ErrInvalidCredentials
	}
	if err != nil {
		return nil, fmt.Errorf("find user: %w", err)
	}
	ok, err := CheckPassword(u.PasswordHash, password)
	if err != nil {
		return nil, fmt.Errorf("check password of %s: %w", u.ID, err)
	}
	if !ok {
		return nil, ErrInvalidCredentials
	}
	q := client.Membership.Query().Where(membership.UserID(u.ID)).Order(ent.Asc(membership.FieldCreatedAt)).WithAccount()
	if accountID != "" {
		q = q.Where(membership.AccountID(accountID))
	}
	m, err := q.First(sys)
	if ent.IsNotFound(err) {
		return nil, &InputError{"you are not a member of that account"}
	}
	if err != nil {
		return nil, fmt.Errorf("find membership of %s: %w", u.ID, err)
	}
	token, err := s.Tokens.Issue(u.ID, m.AccountID)
	if err != nil {
		return nil, err
	}
	return &Session{Token: token, User: u, Account: m.Edges.Account, Role: m.Role}, nil
}

// apiKeyTouchInterval limits how often an API key's last-used time is
// written: once a minute is precise enough and keeps reads from writing.
const apiKeyTouchInterval = time.Minute

// Authenticate turns a bearer token into the viewer it stands for. Every
// failure is ErrUnauthenticated (wrapping the reason, for logs only).
func (s *Service) Authenticate(ctx context.Context, client *ent.Client, token string) (viewer.Viewer, error) {
	if token == "" {
		return viewer.Viewer{}, ErrUnauthenticated
	}
	sys := viewer.SystemContext(ctx, "")
	if IsAPIKey(token) {
		k, err := client.APIKey.Query().Where(apikey.KeyHash(HashAPIKey(token))).Only(sys)
		if err != nil {
			return viewer.Viewer{}, fmt.Errorf("%w: api key: %w", ErrUnauthenticated, err)
		}
		if k.RevokedAt != nil {
			return viewer.Viewer{}, fmt.Errorf("%w: api key %s was revoked", ErrUnauthenticated, k.ID)
		}
		if k.LastUsedAt == nil || time.Since(*k.LastUsedAt) > apiKeyTouchInterval {
			// Best effort: a failed touch must not fail the request.
			_ = client.APIKey.UpdateOneID(k.ID).SetLastUsedAt(time.Now()).Exec(sys)
		}
		return viewer.Viewer{AccountID: k.AccountID, Role: k.Role, APIKeyID: k.ID}, nil
	}
	claims, err := s.Tokens.Verify(token)
	if err != nil {
		return viewer.Viewer{}, fmt.Errorf("%w: %w", ErrUnauthenticated, err)
	}
	m, err := client.Membership.Query().
		Where(membership.UserID(claims.Subject), membership.AccountID(claims.AccountID)).
		Only(sys)
	if err != nil {
		return viewer.Viewer{}, fmt.Errorf("%w: membership: %w", ErrUnauthenticated, err)
	}
	return viewer.Viewer{UserID: m.UserID, AccountID: m.AccountID, Role: m.Role}, nil
}

// NewPublicKey returns a new public identifier for an account or property:
// 16 lower-case base32 characters (80 random bits), safe in any URL path.
func NewPublicKey() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz234567"
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[b[i]&31]
	}
	return string(b)
}

type clientIPKey struct{}

// WithClientIP returns ctx carrying the client's IP address, set by the
// server for the login rate limit.
func WithClientIP(ctx context.Context, ip string) context.Context {
	return context.WithValue(ctx, clientIPKey{}, ip)
}

// ClientIP returns the client IP of ctx, or "".
func ClientIP(ctx context.Context) string {
	ip, _ := ctx.Value(clientIPKey{}).(string)
	return ip
}
