//! PartiQL's tokens as DynamoDB takes them: names bare or in double quotes, strings in
//! single quotes (a doubled quote inside is one), numbers, `?` parameters, and the
//! punctuation of paths, comparisons, lists `[..]`, tuples `{..}` and bags `<<..>>`.

use crate::model::number::Number;

/// One token.
#[derive(Debug, Clone, PartialEq)]
pub enum Token {
    /// A bare word: a name or a keyword (case-insensitive, told apart by the parser).
    Word(String),
    /// A name in double quotes: never a keyword.
    Quoted(String),
    Str(String),
    Num(String),
    Param,
    Punct(&'static str),
}

const PUNCT: [&str; 19] = [
    "<<", ">>", "<>", "!=", "<=", ">=", "(", ")", "[", "]", "{", "}", ",", ".", ":", "=", "<", ">",
    "*",
];

/// Where a token sits, as AWS's messages name it: `line:column:length`, 1-based, in
/// characters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
    pub len: usize,
}

impl std::fmt::Display for Pos {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.line, self.column, self.len)
    }
}

/// The tokens of `text`, or what is wrong with it.
#[cfg(test)]
pub fn tokens(text: &str) -> Result<Vec<Token>, String> {
    tokens_at(text).map(|(tokens, _)| tokens)
}

/// The tokens of `text` with where each sits, or what is wrong with it.
pub fn tokens_at(text: &str) -> Result<(Vec<Token>, Vec<Pos>), String> {
    let chars: Vec<char> = text.chars().collect();
    let (mut out, mut spans) = (Vec::new(), Vec::new());
    let (mut line, mut line_start) = (1, 0);
    let mut i = 0;
    while i < chars.len() {
        let (token, next) = token(&chars, i)?;
        if let Some(token) = token {
            out.push(token);
            spans.push(Pos { line, column: i - line_start + 1, len: next - i });
        }
        for (j, c) in chars.iter().enumerate().take(next).skip(i) {
            if *c == '\n' {
                line += 1;
                line_start = j + 1;
            }
        }
        i = next;
    }
    Ok((out, spans))
}

/// What starts at `chars[i]` (a token, or `None` for white space and comments), and
/// where the text after it starts.
fn token(chars: &[char], mut i: usize) -> Result<(Option<Token>, usize), String> {
    let c = chars[i];
    if c.is_whitespace() {
        return Ok((None, i + 1));
    }
    if c == '-' && chars.get(i + 1) == Some(&'-') {
        // A comment to the end of the line.
        while i < chars.len() && chars[i] != '\n' {
            i += 1;
        }
        return Ok((None, i));
    }
    if c == '/' && chars.get(i + 1) == Some(&'*') {
        // A block comment; unterminated, the statement cannot be read.
        let end = (i + 2..chars.len().saturating_sub(1))
            .find(|&j| chars[j] == '*' && chars[j + 1] == '/')
            .ok_or("Unterminated comment")?;
        return Ok((None, end + 2));
    }
    if c == '\'' || c == '"' {
        let (body, next) = quoted(chars, i)?;
        let token = if c == '\'' { Token::Str(body) } else { Token::Quoted(body) };
        return Ok((Some(token), next));
    }
    if c.is_ascii_digit()
        || (c == '-' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit() || *d == '.'))
        || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
    {
        let start = i;
        i += 1;
        while i < chars.len() {
            let d = chars[i];
            let exponent_sign = (d == '+' || d == '-') && matches!(chars[i - 1], 'e' | 'E');
            if d.is_ascii_alphanumeric() || d == '.' || exponent_sign {
                i += 1;
            } else {
                break;
            }
        }
        let literal: String = chars[start..i].iter().collect();
        // PartiQL reads a number as a Java BigDecimal: one it cannot hold (an exponent
        // or scale past 32 bits, letters) is unreadable.
        if !Number::fits_bigdecimal(&literal) {
            return Err(format!("Unreadable number {literal}"));
        }
        return Ok((Some(Token::Num(literal)), i));
    }
    if c.is_alphabetic() || c == '_' {
        let start = i;
        while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
            i += 1;
        }
        return Ok((Some(Token::Word(chars[start..i].iter().collect())), i));
    }
    if c == '?' {
        return Ok((Some(Token::Param), i + 1));
    }
    if c == '+' || c == '-' {
        return Ok((Some(Token::Punct(if c == '+' { "+" } else { "-" })), i + 1));
    }
    if c == ';' && chars[i + 1..].iter().all(|c| c.is_whitespace()) {
        // One trailing semicolon ends the statement.
        return Ok((None, chars.len()));
    }
    let rest: String = chars[i..chars.len().min(i + 2)].iter().collect();
    let Some(p) = PUNCT.iter().find(|p| rest.starts_with(**p)) else {
        return Err(format!("Unexpected character '{c}'"));
    };
    Ok((Some(Token::Punct(p)), i + p.len()))
}

/// The text between the quote at `start` and its closing quote, a doubled quote read
/// as one; and where the text after it starts.
fn quoted(chars: &[char], start: usize) -> Result<(String, usize), String> {
    let q = chars[start];
    let mut body = String::new();
    let mut i = start + 1;
    loop {
        match chars.get(i) {
            None => return Err("Unterminated quoted text".into()),
            Some(c) if *c == q && chars.get(i + 1) == Some(&q) => {
                body.push(q);
                i += 2;
            }
            Some(c) if *c == q => return Ok((body, i + 1)),
            Some(c) => {
                body.push(*c);
                i += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_split_into_tokens() {
        let t = tokens(
            r#"SELECT "a b", c FROM "t"."i" WHERE x[0].y <= -1.5e+3 AND s = 'it''s' -- note"#,
        )
        .unwrap();
        assert_eq!(t[1], Token::Quoted("a b".into()));
        assert!(t.contains(&Token::Num("-1.5e+3".into())));
        assert!(t.contains(&Token::Str("it's".into())));
        assert!(t.contains(&Token::Punct("<=")));
        assert_eq!(t.last(), Some(&Token::Str("it's".into())));
        let bag = tokens("<<'a', ?>>;").unwrap();
        assert_eq!(bag.first(), Some(&Token::Punct("<<")));
        assert_eq!(bag.last(), Some(&Token::Punct(">>")));
        assert!(tokens("SELECT 'open").is_err());
        assert!(tokens("SELECT # FROM t").is_err());
        let commented = tokens("SELECT /* a * note */ * FROM t /**/").unwrap();
        assert_eq!(commented.len(), 4);
        assert!(tokens("SELECT * FROM t /* open").is_err());
        assert!(tokens("SELECT * FROM t WHERE a = 1e2147483648").is_err());
        assert!(tokens("SELECT * FROM t WHERE a = 1e126").is_ok(), "the range is checked later");
        let (_, at) = tokens_at("SELECT *\n  FROM \"t\" -- x\nWHERE set_add").unwrap();
        let shown: Vec<String> = at.iter().map(Pos::to_string).collect();
        assert_eq!(shown, ["1:1:6", "1:8:1", "2:3:4", "2:8:3", "3:1:5", "3:7:7"]);
    }
}
