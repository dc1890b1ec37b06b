package tools

// Mirrors Ollama's thinking/parser.go and the completion callback of server/routes.go
// ChatHandler (thinking parser first, then the tool-call parser), as read for v0.33.0-rc2
// (fb30760); written for this harness. Ollama is MIT-licensed (Copyright (c) Ollama).

import (
	"strings"
	"unicode"
)

const (
	lookingForOpening = iota
	startedEatingWhitespace
	thinking
	doneEatingWhitespace
	thinkingDone
)

// Thinker is thinking.Parser.
type Thinker struct {
	state      int
	OpeningTag string
	ClosingTag string
	acc        strings.Builder
}

func (s *Thinker) AddContent(content string) (string, string) {
	s.acc.WriteString(content)
	var th, rest strings.Builder
	for {
		t, r, again := s.eat()
		th.WriteString(t)
		rest.WriteString(r)
		if !again {
			break
		}
	}
	return th.String(), rest.String()
}

func (s *Thinker) eat() (string, string, bool) {
	switch s.state {
	case lookingForOpening:
		trimmed := strings.TrimLeftFunc(s.acc.String(), unicode.IsSpace)
		if strings.HasPrefix(trimmed, s.OpeningTag) {
			after := strings.Join(strings.Split(trimmed, s.OpeningTag)[1:], s.OpeningTag)
			after = strings.TrimLeftFunc(after, unicode.IsSpace)
			s.acc.Reset()
			s.acc.WriteString(after)
			if after == "" {
				s.state = startedEatingWhitespace
			} else {
				s.state = thinking
			}
			return "", "", true
		} else if strings.HasPrefix(s.OpeningTag, trimmed) || trimmed == "" {
			return "", "", false
		}
		s.state = thinkingDone
		untrimmed := s.acc.String()
		s.acc.Reset()
		return "", untrimmed, false
	case startedEatingWhitespace:
		trimmed := strings.TrimLeftFunc(s.acc.String(), unicode.IsSpace)
		s.acc.Reset()
		if trimmed == "" {
			return "", "", false
		}
		s.state = thinking
		s.acc.WriteString(trimmed)
		return "", "", true
	case thinking:
		acc := s.acc.String()
		if strings.Contains(acc, s.ClosingTag) {
			split := strings.Split(acc, s.ClosingTag)
			remaining := strings.TrimLeftFunc(strings.Join(split[1:], s.ClosingTag), unicode.IsSpace)
			s.acc.Reset()
			if remaining == "" {
				s.state = doneEatingWhitespace
			} else {
				s.state = thinkingDone
			}
			return split[0], remaining, false
		}
		n := 0
		for i := min(len(s.ClosingTag), len(acc)); i > 0; i-- {
			if strings.HasSuffix(acc, s.ClosingTag[:i]) {
				n = i
				break
			}
		}
		if n > 0 {
			s.acc.Reset()
			s.acc.WriteString(acc[len(acc)-n:])
			return acc[:len(acc)-n], "", false
		}
		s.acc.Reset()
		return acc, "", false
	case doneEatingWhitespace:
		trimmed := strings.TrimLeftFunc(s.acc.String(), unicode.IsSpace)
		s.acc.Reset()
		if trimmed != "" {
			s.state = thinkingDone
		}
		return "", trimmed, false
	default:
		acc := s.acc.String()
		s.acc.Reset()
		return "", acc, false
	}
}

// Chunk is one streamed chat response line (message part).
type Chunk struct {
	Thinking string
	Content  string
	Calls    []Call
	Done     bool
}

// Chat runs the output chunks through the parsers as ChatHandler's callback does. tp is nil
// when the request has no tools, th nil when thinking is off or no tags were inferred.
func Chat(th *Thinker, tp *Parser, chunks []string) []Chunk {
	var out []Chunk
	all := append(append([]string{}, chunks...), "")
	for i, chunk := range all {
		done := i == len(all)-1
		content, thinkingText := chunk, ""
		var calls []Call
		if th != nil {
			t, rest := th.AddContent(content)
			if t == "" && rest == "" && !done {
				continue
			}
			thinkingText, content = t, rest
		}
		if tp != nil {
			found, text := tp.Add(content)
			if len(text) > 0 {
				content = text
			} else if len(found) > 0 {
				calls, content = found, ""
			} else if thinkingText != "" {
				// falls through: sent with the content as it was
			} else {
				if done {
					out = append(out, Chunk{Content: tp.Content(), Done: true})
				}
				continue
			}
		}
		out = append(out, Chunk{Thinking: thinkingText, Content: content, Calls: calls, Done: done})
	}
	return out
}
