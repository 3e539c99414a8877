//! The parsing machinery shared by the three grammars: a token cursor that
//! remembers the furthest point where the input stopped matching (that token is
//! what AWS names in "Syntax error; token: ..."), and the raw, unresolved trees the
//! grammars build before the semantic checks run.

use super::lexer::{Kind, Token, lex, syntax_error};

/// A syntax error; the message is built from [`Parser::furthest`].
#[derive(Debug)]
pub(crate) struct Fail;

/// Result of a grammar rule.
pub(crate) type PResult<T> = Result<T, Fail>;

/// Parentheses nested deeper than this are refused as a syntax error at the `(`,
/// so a 4 KB string of `(` cannot exhaust the stack. AWS's own limit is unknown.
pub(crate) const MAX_NESTING: usize = 100;

/// One step of a path as written.
#[derive(Debug, Clone)]
pub(crate) enum RawElem {
    /// A bare identifier (token index).
    Ident(usize),
    /// A `#placeholder` (token index).
    Name(usize),
    /// A list index (its value).
    Index(usize),
}

/// A document path as written.
#[derive(Debug, Clone)]
pub(crate) struct RawPath(pub Vec<RawElem>);

/// An operand as written: path, `:value`, function call or parenthesized operand.
#[derive(Debug, Clone)]
pub(crate) enum RawOperand {
    Path(RawPath),
    /// A `:placeholder` (token index).
    Value(usize),
    /// Function name (token index) and arguments.
    Call(usize, Vec<RawOperand>),
    Paren(Box<RawOperand>),
}

impl RawOperand {
    /// The operand without its parentheses.
    pub(crate) fn unwrap_parens(&self) -> &RawOperand {
        match self {
            RawOperand::Paren(inner) => inner.unwrap_parens(),
            other => other,
        }
    }
}

/// The cursor over one expression's tokens.
pub(crate) struct Parser<'s> {
    /// The expression text.
    pub src: &'s str,
    /// Its tokens, ending with end-of-input.
    pub toks: Vec<Token>,
    /// Index of the next token.
    pub pos: usize,
    /// The furthest token at which some rule failed to match.
    furthest: usize,
    /// Set when `((x))` was seen (AWS: "The expression has redundant parentheses;").
    pub redundant: bool,
    /// Operators and functions seen (AWS refuses more than 300).
    pub ops: usize,
    /// Current parenthesis nesting.
    pub depth: usize,
    /// Elements in the longest document path seen.
    pub longest_path: usize,
}

impl<'s> Parser<'s> {
    /// A parser positioned at the first token of `src`.
    pub(crate) fn new(src: &'s str) -> Parser<'s> {
        Parser {
            src,
            toks: lex(src),
            pos: 0,
            furthest: 0,
            redundant: false,
            ops: 0,
            depth: 0,
            longest_path: 0,
        }
    }

    /// The source text of token `i`.
    pub(crate) fn text(&self, i: usize) -> &'s str {
        &self.src[self.toks[i].start..self.toks[i].end]
    }

    /// AWS's syntax-error message for this parse.
    pub(crate) fn error(&self) -> String {
        syntax_error(self.src, &self.toks, self.furthest)
    }

    /// Records that the current token did not match what a rule wanted.
    fn miss(&mut self) {
        self.furthest = self.furthest.max(self.pos);
    }

    /// A hard failure at the current token.
    pub(crate) fn fail<T>(&mut self) -> PResult<T> {
        self.miss();
        Err(Fail)
    }

    fn at(&self, kind: Kind) -> bool {
        self.toks[self.pos].kind == kind
    }

    /// Consumes the operator `p` if it is next.
    pub(crate) fn punct(&mut self, p: &str) -> bool {
        if self.at(Kind::Punct) && self.text(self.pos) == p {
            self.pos += 1;
            true
        } else {
            self.miss();
            false
        }
    }

    /// Like [`Parser::punct`], failing when absent.
    pub(crate) fn expect(&mut self, p: &str) -> PResult<()> {
        if self.punct(p) { Ok(()) } else { Err(Fail) }
    }

    /// True when the next token is the keyword `kw` (any case), without consuming.
    pub(crate) fn is_keyword(&self, kw: &str) -> bool {
        self.at(Kind::Ident) && self.text(self.pos).eq_ignore_ascii_case(kw)
    }

    /// Consumes the keyword `kw` (any case) if it is next.
    pub(crate) fn keyword(&mut self, kw: &str) -> bool {
        if self.is_keyword(kw) {
            self.pos += 1;
            true
        } else {
            self.miss();
            false
        }
    }

    /// Consumes a token of `kind`, returning its index.
    pub(crate) fn take(&mut self, kind: Kind) -> PResult<usize> {
        if self.at(kind) {
            self.pos += 1;
            Ok(self.pos - 1)
        } else {
            self.fail()
        }
    }

    /// Succeeds at the end of the input.
    pub(crate) fn expect_eof(&mut self) -> PResult<()> {
        if self.at(Kind::Eof) { Ok(()) } else { self.fail() }
    }

    /// Enters one more level of parentheses (the `(` is the current token).
    pub(crate) fn enter(&mut self) -> PResult<()> {
        if self.depth >= MAX_NESTING {
            return self.fail();
        }
        self.depth += 1;
        Ok(())
    }

    /// One path element name: an identifier that is not one of the grammar's
    /// `keywords`, or a `#placeholder`.
    fn path_name(&mut self, keywords: &[&str]) -> PResult<RawElem> {
        if self.at(Kind::Name) {
            self.pos += 1;
            return Ok(RawElem::Name(self.pos - 1));
        }
        if self.at(Kind::Ident) && !keywords.iter().any(|k| self.is_keyword(k)) {
            self.pos += 1;
            return Ok(RawElem::Ident(self.pos - 1));
        }
        self.fail()
    }

    /// `name ( . name | [ int ] )*`, the head given.
    pub(crate) fn path_from(&mut self, head: RawElem, keywords: &[&str]) -> PResult<RawPath> {
        let mut path = RawPath(vec![head]);
        self.path_tail(&mut path, keywords)?;
        Ok(path)
    }

    /// A whole path.
    pub(crate) fn path(&mut self, keywords: &[&str]) -> PResult<RawPath> {
        let head = self.path_name(keywords)?;
        self.path_from(head, keywords)
    }

    /// Appends `.name` and `[int]` steps to `path`.
    pub(crate) fn path_tail(&mut self, path: &mut RawPath, keywords: &[&str]) -> PResult<()> {
        loop {
            if self.punct(".") {
                path.0.push(self.path_name(keywords)?);
            } else if self.punct("[") {
                let at = self.take(Kind::Int)?;
                // An index too large for a machine word is refused at its token
                // (AWS's behaviour for such indexes is unknown).
                let Ok(ix) = self.text(at).parse::<u32>() else {
                    self.pos = at;
                    return self.fail();
                };
                path.0.push(RawElem::Index(ix as usize));
                self.expect("]")?;
            } else {
                self.longest_path = self.longest_path.max(path.0.len());
                return Ok(());
            }
        }
    }

    /// An operand without parentheses: `:value`, `f(args)` or a path. Arguments
    /// are parsed by `arg`, which decides whether they may be parenthesized.
    pub(crate) fn operand(
        &mut self,
        keywords: &[&str],
        arg: fn(&mut Parser<'s>) -> PResult<RawOperand>,
    ) -> PResult<RawOperand> {
        if self.at(Kind::Value) {
            self.pos += 1;
            return Ok(RawOperand::Value(self.pos - 1));
        }
        let head = self.path_name(keywords)?;
        if let RawElem::Ident(name) = head
            && self.punct("(")
        {
            self.enter()?;
            let mut args = vec![arg(self)?];
            while self.punct(",") {
                args.push(arg(self)?);
            }
            self.expect(")")?;
            self.depth -= 1;
            self.ops += 1;
            return Ok(RawOperand::Call(name, args));
        }
        Ok(RawOperand::Path(self.path_from(head, keywords)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_parens(p: &mut Parser<'_>) -> PResult<RawOperand> {
        p.operand(&[], no_parens)
    }

    #[test]
    fn paths_and_calls() {
        let mut p = Parser::new("a.#b[3].c");
        let path = p.path(&[]).unwrap();
        assert_eq!(path.0.len(), 4);
        assert!(matches!(path.0[2], RawElem::Index(3)));
        p.expect_eof().unwrap();

        let mut p = Parser::new("f(a, :v, g(b))");
        let op = no_parens(&mut p).unwrap();
        assert!(matches!(op, RawOperand::Call(0, ref args) if args.len() == 3));
        assert_eq!(p.ops, 2);
    }

    #[test]
    fn failures_point_at_the_furthest_token() {
        let mut p = Parser::new("a[x]");
        assert!(p.path(&[]).is_err());
        assert_eq!(p.error(), r#"Syntax error; token: "x", near: "[x]""#);

        let mut p = Parser::new("a[99999999999]");
        assert!(p.path(&[]).is_err());
        assert_eq!(p.error(), r#"Syntax error; token: "99999999999", near: "[99999999999]""#);

        let mut p = Parser::new("f()");
        assert!(no_parens(&mut p).is_err());
        assert_eq!(p.error(), r#"Syntax error; token: ")", near: "()""#);
    }
}
