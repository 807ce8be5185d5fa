package admin

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/pquerna/otp/totp"

	"postern/internal/auth"
	"postern/internal/store"
)

// Administrator is what the service shows of an administrator: never its
// password hash or TOTP secret.
type Administrator struct {
	Name string
	// Role is store.AdminRoleServer (everything) or store.AdminRoleDomain
	// (the Domains listed only).
	Role      string
	Domains   []string
	TOTP      bool
	CreatedAt time.Time
	// LastLogin is zero when the administrator never logged in.
	LastLogin time.Time
}

func adminView(a store.Admin) Administrator {
	return Administrator{Name: a.Name, Role: a.Role, Domains: a.Domains, TOTP: a.TOTPSecret != "",
		CreatedAt: a.CreatedAt, LastLogin: a.LastLogin}
}

// IsServer reports whether a is a server administrator.
func (a Administrator) IsServer() bool { return a.Role == store.AdminRoleServer }

// ActorName is the actor an administrator's changes are made as.
func (a Administrator) ActorName() string { return "admin:" + a.Name }

// maxAdminName bounds an administrator's login name.
const maxAdminName = 64

// adminName returns the canonical (lower-case) form of a login name: 1 to
// 64 of a-z 0-9 . _ - @, starting with a letter or digit.
func adminName(raw string) (string, error) {
	n := strings.ToLower(strings.TrimSpace(raw))
	ok := n != "" && len(n) <= maxAdminName
	for i, r := range n {
		alnum := r >= 'a' && r <= 'z' || r >= '0' && r <= '9'
		ok = ok && (alnum || i > 0 && strings.ContainsRune("._-@", r))
	}
	if !ok || strings.HasSuffix(n, ".") {
		return "", invalid("name", raw, nil,
			"administrator name %q: give 1 to %d of a-z 0-9 . _ - @, starting with a letter or digit", raw, maxAdminName)
	}
	return n, nil
}

// NewAdministrator is what AddAdministrator needs.
type NewAdministrator struct {
	Name string
	// Role is "server" or "domain".
	Role string
	// Domains a domain administrator manages: local domains, at least one.
	Domains  []string
	Password NewPassword
	// TOTP makes a second factor secret; its otpauth URL is returned once.
	TOTP bool
}

// AddAdministrator creates an administrator. It returns the generated
// password ("" when given) and, with TOTP, the otpauth:// URL of the
// second factor for an authenticator app: both shown once.
func (s *Service) AddAdministrator(ctx context.Context, n NewAdministrator) (Administrator, string, string, error) {
	if err := needActor(ctx); err != nil {
		return Administrator{}, "", "", err
	}
	name, err := adminName(n.Name)
	if err != nil {
		return Administrator{}, "", "", err
	}
	domains, err := s.adminDomains(ctx, n.Role, n.Domains)
	if err != nil {
		return Administrator{}, "", "", err
	}
	password, generated, err := n.Password.choose()
	if err != nil {
		return Administrator{}, "", "", err
	}
	if _, err := s.st.Admin(ctx, name); err == nil {
		return Administrator{}, "", "", exists("name", name, "administrator "+name)
	}
	var secret, url string
	if n.TOTP {
		if secret, url, err = s.newTOTP(name); err != nil {
			return Administrator{}, "", "", err
		}
	}
	cred, err := auth.HashPassword(password)
	if err != nil {
		return Administrator{}, "", "", err
	}
	a, err := s.st.AddAdmin(ctx, store.Admin{Name: name, PasswordHash: cred.PasswordHash, Role: n.Role,
		Domains: domains, TOTPSecret: secret})
	if err != nil {
		return Administrator{}, "", "", storeErr(err, "name", name, "administrator "+name)
	}
	s.audit(ctx, "admin.add", name, "role", n.Role, "domains", strings.Join(domains, ","), "totp", n.TOTP)
	if !generated {
		password = ""
	}
	return adminView(a), password, url, nil
}

// adminDomains checks a role and its domains and returns their canonical
// names.
func (s *Service) adminDomains(ctx context.Context, role string, raw []string) ([]string, error) {
	var out []string
	for _, d := range raw {
		if strings.TrimSpace(d) == "" {
			continue
		}
		dom, err := s.localDomain(ctx, d)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, dom.Name) {
			out = append(out, dom.Name)
		}
	}
	switch {
	case role == store.AdminRoleServer && len(out) > 0:
		return nil, invalid("domains", "", nil, "a server administrator manages every domain; give no domains")
	case role == store.AdminRoleDomain && len(out) == 0:
		return nil, invalid("domains", "", nil, "a domain administrator needs at least one domain")
	case role != store.AdminRoleServer && role != store.AdminRoleDomain:
		return nil, invalid("role", role, nil, "role %q: say server or domain", role)
	}
	return out, nil
}

// newTOTP makes a second factor for an administrator: an RFC 6238 secret
// (SHA-1, 6 digits, 30 s, what every authenticator app reads) and its URL.
func (s *Service) newTOTP(name string) (secret, url string, err error) {
	issuer := "Postern"
	if s.host != "" {
		issuer = "Postern " + s.host
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: issuer, AccountName: name})
	if err != nil {
		return "", "", err
	}
	return key.Secret(), key.URL(), nil
}

// Administrator returns one administrator.
func (s *Service) Administrator(ctx context.Context, name string) (Administrator, error) {
	a, err := s.admin(ctx, name)
	return adminView(a), err
}

func (s *Service) admin(ctx context.Context, raw string) (store.Admin, error) {
	name, err := adminName(raw)
	if err != nil {
		return store.Admin{}, err
	}
	a, err := s.st.Admin(ctx, name)
	return a, storeErr(err, "name", name, "administrator "+name)
}

// Administrators lists every administrator by name.
func (s *Service) Administrators(ctx context.Context) ([]Administrator, error) {
	list, err := s.st.Admins(ctx)
	out := make([]Administrator, len(list))
	for i, a := range list {
		out[i] = adminView(a)
	}
	return out, err
}

// DeleteAdministrator removes an administrator with its sessions and API
// tokens: they stop working at once.
func (s *Service) DeleteAdministrator(ctx context.Context, name string) error {
	if err := needActor(ctx); err != nil {
		return err
	}
	a, err := s.admin(ctx, name)
	if err != nil {
		return err
	}
	if err := s.st.DeleteAdmin(ctx, a.Name); err != nil {
		return storeErr(err, "name", a.Name, "administrator "+a.Name)
	}
	s.audit(ctx, "admin.delete", a.Name)
	return nil
}

// SetAdministratorTOTP gives the administrator a new second factor
// (replacing any) and returns its otpauth:// URL, shown once.
func (s *Service) SetAdministratorTOTP(ctx context.Context, name string) (string, error) {
	if err := needActor(ctx); err != nil {
		return "", err
	}
	a, err := s.admin(ctx, name)
	if err != nil {
		return "", err
	}
	secret, url, err := s.newTOTP(a.Name)
	if err != nil {
		return "", err
	}
	if err := s.st.SetAdminTOTP(ctx, a.Name, secret); err != nil {
		return "", storeErr(err, "name", a.Name, "administrator "+a.Name)
	}
	s.audit(ctx, "admin.totp.set", a.Name)
	return url, nil
}

// ClearAdministratorTOTP removes the second factor: the password alone
// logs in again.
func (s *Service) ClearAdministratorTOTP(ctx context.Context, name string) error {
	if err := needActor(ctx); err != nil {
		return err
	}
	a, err := s.admin(ctx, name)
	if err != nil {
		return err
	}
	if err := s.st.SetAdminTOTP(ctx, a.Name, ""); err != nil {
		return storeErr(err, "name", a.Name, "administrator "+a.Name)
	}
	s.audit(ctx, "admin.totp.clear", a.Name)
	return nil
}

// forbidden is the refusal of an administrator acting outside its scope.
func forbidden(field, value, format string, args ...any) *Error {
	return &Error{Kind: KindForbidden, Field: field, Value: value, Msg: sprintf(format, args...)}
}

// CheckDomainScope is nil when a may manage domain (raw, as given): a
// server administrator any, a domain administrator only its own. A name
// that is not a domain is KindInvalid, so the refusal never depends on
// whether another administrator's domain exists.
func (a Administrator) CheckDomainScope(raw string) error {
	d, err := domainName(raw)
	if err != nil {
		return err
	}
	if a.IsServer() || slices.Contains(a.Domains, d) {
		return nil
	}
	return forbidden("domain", d, "administrator %s does not manage domain %s", a.Name, d)
}

// CheckAddressScope is CheckDomainScope for an account's or an alias's
// address.
func (a Administrator) CheckAddressScope(raw string) error {
	addr, err := address("address", raw)
	if err != nil {
		return err
	}
	if err := a.CheckDomainScope(domainOf(addr)); err != nil {
		return forbidden("address", addr, "administrator %s does not manage %s", a.Name, addr)
	}
	return nil
}

// CheckServerScope is nil for a server administrator: what only they may
// do (add or delete domains, global Sieve scripts, administrators, the
// audit log).
func (a Administrator) CheckServerScope(what string) error {
	if a.IsServer() {
		return nil
	}
	return forbidden("role", a.Role, "%s needs a server administrator", what)
}
