package postback

import "strings"

// Syntax is how a network writes its macros, shown with x as the macro's
// name: "{x}", "${x}", "#x#", "[x]", "!!x!!", "!!!x!!!".
type Syntax string

// The macro syntaxes networks use (specs/networks.md). Every one of them is
// recognised by IsMacro.
const (
	SyntaxBraces       Syntax = "{x}"
	SyntaxDollarBraces Syntax = "${x}"
	SyntaxHashes       Syntax = "#x#"
	SyntaxBrackets     Syntax = "[x]"
	SyntaxDoubleBangs  Syntax = "!!x!!"
	SyntaxTripleBangs  Syntax = "!!!x!!!"
)

// Macro writes the macro called name in this syntax: SyntaxHashes.Macro("s2")
// is "#s2#". An empty Syntax (a network without macros) gives "".
func (s Syntax) Macro(name string) string {
	if s == "" {
		return ""
	}
	return strings.Replace(string(s), "x", name, 1)
}

// ClickIDPlaceholder is the placeholder the tracking tag's AutoTag replaces
// in affiliate links; a postback carrying it literally never had a click id.
const ClickIDPlaceholder = "--CLICK-ID--"

// maxMacroName bounds the name inside a macro; real ones are short words.
const maxMacroName = 64

// IsMacro reports whether s is a macro a network left unsubstituted, which
// counts as a missing value: {x}, {{x}}, ${x}, #x#, [x], !!x!!, !!!x!!!,
// and --X-- (the tag's --CLICK-ID--). Surrounding spaces are ignored, and
// so is percent-encoding applied once or twice ("%7Bclickid%7D",
// "%257Bclickid%257D"), since networks that do not know a macro often
// escape it before sending it back.
//
// To keep real values from being mistaken for macros, the name inside must
// be 1 to 64 letters, digits, '_', '.', ':' or '-' with at least one
// letter: "[1]" and "#123#" are values, "{a b}" is not a macro.
func IsMacro(s string) bool {
	s = strings.TrimSpace(s)
	if len(s) > 9*(maxMacroName+6) {
		return false // even decoded twice it would be too long
	}
	for range 3 {
		if isMacroSyntax(s) {
			return true
		}
		if strings.IndexByte(s, '%') < 0 {
			return false
		}
		d := unescapePercent(s)
		if d == s {
			return false
		}
		s = strings.TrimSpace(d)
	}
	return false
}

// isMacroSyntax reports whether s, exactly, is a macro in one of the
// recognised syntaxes.
func isMacroSyntax(s string) bool {
	if len(s) < 3 || len(s) > maxMacroName+6 {
		return false
	}
	switch s[0] {
	case '{':
		if strings.HasPrefix(s, "{{") && strings.HasSuffix(s, "}}") {
			return isMacroName(s[2 : len(s)-2])
		}
		return s[len(s)-1] == '}' && isMacroName(s[1:len(s)-1])
	case '$':
		return strings.HasPrefix(s, "${") && s[len(s)-1] == '}' && isMacroName(s[2:len(s)-1])
	case '#':
		return s[len(s)-1] == '#' && isMacroName(s[1:len(s)-1])
	case '[':
		return s[len(s)-1] == ']' && isMacroName(s[1:len(s)-1])
	case '!':
		for _, bangs := range [...]string{"!!!", "!!"} {
			if strings.HasPrefix(s, bangs) && strings.HasSuffix(s, bangs) && len(s) > 2*len(bangs) {
				return isMacroName(s[len(bangs) : len(s)-len(bangs)])
			}
		}
	case '-':
		if strings.HasPrefix(s, "--") && strings.HasSuffix(s, "--") && len(s) > 4 {
			inner := s[2 : len(s)-2]
			return inner[0] != '-' && inner[len(inner)-1] != '-' && isMacroName(inner)
		}
	}
	return false
}

func isMacroName(s string) bool {
	if s == "" || len(s) > maxMacroName {
		return false
	}
	letter := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
			letter = true
		case '0' <= c && c <= '9' || c == '_' || c == '.' || c == ':' || c == '-':
		default:
			return false
		}
	}
	return letter
}

// unescapePercent decodes "%XX" escapes only ('+' stays '+': a macro has
// none, and a value with one is not a macro anyway).
func unescapePercent(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}
