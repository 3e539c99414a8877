//! The statements DynamoDB's PartiQL takes (SELECT, INSERT, UPDATE, DELETE, and EXISTS
//! inside a transaction), parsed into a tree the translation turns into the equivalent
//! DynamoDB calls. Errors are the reason only; the caller words them as AWS does
//! ("Statement wasn't well formed, can't be processed: ...").

use super::lexer::{Pos, Token, tokens_at};
use crate::model::number::Number;

/// One segment of an attribute path.
#[derive(Debug, Clone, PartialEq)]
pub enum Segment {
    Name(String),
    Index(u32),
}

pub type Path = Vec<Segment>;

/// A literal or a parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    Num(String),
    Bool(bool),
    Null,
    List(Vec<Value>),
    Map(Vec<(String, Value)>),
    Bag(Vec<Value>),
    /// The n-th `?`, from 0.
    Param(usize),
}

/// What a comparison or function compares.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Path(Path),
    Value(Value),
    Size(Path),
}

/// A condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Compare(Operand, &'static str, Operand),
    Between(Operand, Operand, Operand),
    In(Operand, Vec<Operand>),
    /// `begins_with`, `contains`, `attribute_exists`, `attribute_not_exists`,
    /// `attribute_type`, with their arguments.
    Function(&'static str, Vec<Operand>),
    /// `IS [NOT] MISSING` (`true` for MISSING).
    Missing(Path, bool),
    /// `IS [NOT] NULL` (`true` for NULL).
    Null(Path, bool),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
}

/// The value a SET assigns.
#[derive(Debug, Clone, PartialEq)]
pub enum SetValue {
    Operand(Operand),
    Arithmetic(Operand, &'static str, Operand),
    /// `list_append`, `if_not_exists`, `set_add` or `set_delete`, with its two arguments.
    Function(&'static str, Operand, Operand),
}

/// What an UPDATE or DELETE answers with (`RETURNING ...`): the ReturnValues it stands
/// for (`ALL_OLD`, `UPDATED_OLD`, `ALL_NEW`, `UPDATED_NEW`).
pub type Returning = Option<&'static str>;

#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    Select {
        table: String,
        index: Option<String>,
        projection: Vec<Path>,
        filter: Option<Expr>,
        /// ORDER BY: each key with whether it is DESC.
        order: Vec<(String, bool)>,
    },
    Insert {
        table: String,
        item: Value,
    },
    Update {
        table: String,
        sets: Vec<(Path, SetValue)>,
        removes: Vec<Path>,
        filter: Expr,
        returning: Returning,
    },
    Delete {
        table: String,
        filter: Expr,
        returning: Returning,
    },
    /// `EXISTS(SELECT * FROM t WHERE ...)`: a transaction's condition check.
    Exists {
        table: String,
        filter: Expr,
    },
}

impl Statement {
    pub fn table(&self) -> &str {
        match self {
            Statement::Select { table, .. }
            | Statement::Insert { table, .. }
            | Statement::Update { table, .. }
            | Statement::Delete { table, .. }
            | Statement::Exists { table, .. } => table,
        }
    }
}

/// Why a statement is refused.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// Unreadable: AWS's "Statement wasn't well formed" with this detail (empty for
    /// what its lexer cannot read: a stray character, a number Java cannot hold).
    Malformed(String),
    /// Read, but refused with a message of its own ("Aliasing is not supported").
    Plain(String),
}

/// AWS's detail for a token left over after a complete statement (PartiQL's parser).
const LEFTOVER: &str = "Unexpected token after expression";
/// AWS's detail where a term should start but the statement has ended.
const NO_TERM: &str = "Unexpected term";
/// AWS's detail for a binary operator with nothing after it.
const NO_RIGHT: &str = "Missing right-hand side expression of infix operator";
/// AWS's detail where a table name should be but is not.
const NO_TABLE: &str = "Expected identifier for simple path";
/// AWS's refusal of a type test (`x IS INT`) DynamoDB has no attribute type for.
const IS_TYPE: &str = "Unsupported operation: IsType";

/// Words PartiQL reads as operators: where a term should start, AWS says "Unexpected
/// operator".
const OPERATORS: [&str; 6] = ["IS", "LIKE", "BETWEEN", "IN", "AND", "OR"];
/// Words PartiQL reads as clause keywords: where a term should start, AWS says
/// "Unexpected keyword"; they are never a table alias.
const KEYWORDS: [&str; 19] = [
    "SELECT",
    "FROM",
    "WHERE",
    "ORDER",
    "BY",
    "SET",
    "REMOVE",
    "VALUE",
    "VALUES",
    "INSERT",
    "INTO",
    "DELETE",
    "UPDATE",
    "RETURNING",
    "GROUP",
    "HAVING",
    "LIMIT",
    "AS",
    "ASC",
];

/// Other words PartiQL reserves that cannot follow a dot unquoted.
const RESERVED: [&str; 14] = [
    "INNER", "OUTER", "JOIN", "LEFT", "RIGHT", "FULL", "CROSS", "ON", "NOT", "NULL", "MISSING",
    "TRUE", "FALSE", "EXISTS",
];

/// Type names `IS` tests that DynamoDB has an attribute type for, with that type.
const TYPES: [(&str, &str); 7] = [
    ("BOOL", "BOOL"),
    ("BOOLEAN", "BOOL"),
    ("STRING", "S"),
    ("LIST", "L"),
    ("STRUCT", "M"),
    ("TUPLE", "M"),
    ("BLOB", "B"),
];
/// PartiQL's other type names: they parse, and are refused as [`IS_TYPE`]. DOUBLE
/// PRECISION and CHARACTER VARYING are two words.
const OTHER_TYPES: [&str; 20] = [
    "INT",
    "INT2",
    "INT4",
    "INT8",
    "INTEGER",
    "SMALLINT",
    "FLOAT",
    "REAL",
    "DOUBLE",
    "DECIMAL",
    "DEC",
    "NUMERIC",
    "CHAR",
    "CHARACTER",
    "VARCHAR",
    "TIMESTAMP",
    "SYMBOL",
    "CLOB",
    "SEXP",
    "BAG",
];

/// Parses one statement.
pub fn parse(text: &str) -> Result<Statement, Refusal> {
    // What the lexer cannot read, AWS reports with nothing after the colon.
    let (tokens, positions) = tokens_at(text).map_err(|_| Refusal::Malformed(String::new()))?;
    let mut p = Parser {
        tokens,
        positions,
        at: 0,
        params: 0,
        depth: 0,
        deferred: None,
        literal: Vec::new(),
        item: false,
    };
    let statement = p.statement().map_err(Refusal::Malformed)?;
    if p.peek().is_some() {
        return Err(Refusal::Malformed(LEFTOVER.into()));
    }
    // A statement that reads is refused for what it says only once it has all been read.
    match p.deferred {
        Some(message) => Err(Refusal::Plain(message)),
        None => Ok(statement),
    }
}

fn describe(t: &Token) -> String {
    match t {
        Token::Word(w) => format!("'{w}'"),
        Token::Quoted(q) => format!("\"{q}\""),
        Token::Str(s) => format!("'{s}'"),
        Token::Num(n) => n.clone(),
        Token::Param => "'?'".into(),
        Token::Punct(p) => format!("'{p}'"),
    }
}

struct Parser {
    tokens: Vec<Token>,
    /// Where each token sits, for the messages AWS words with a position.
    positions: Vec<Pos>,
    at: usize,
    params: usize,
    /// How deep the parentheses, NOTs and nested values around the cursor go.
    depth: usize,
    /// The first refusal of something read (an alias, a number out of range), reported
    /// if the rest of the statement reads.
    deferred: Option<String>,
    /// Where in a literal the cursor is (`root`, `root.x`, `root[1]`), for AWS's
    /// number messages.
    literal: Vec<String>,
    /// The next tuple is an INSERT's item.
    item: bool,
}

/// How deep a statement may nest (parentheses, NOT, lists and tuples in values): the
/// parser recurses, and a statement of 8,192 `(` must not exhaust a thread's stack.
const MAX_DEPTH: usize = 64;

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Result<Token, String> {
        let t = self.tokens.get(self.at).cloned().ok_or("Unexpected end of statement")?;
        self.at += 1;
        Ok(t)
    }

    fn is_word(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    fn eat_word(&mut self, word: &str) -> bool {
        let found = self.is_word(word);
        self.at += usize::from(found);
        found
    }

    fn word(&mut self, word: &str) -> Result<(), String> {
        match self.eat_word(word) {
            true => Ok(()),
            false => Err(self.expected(&word.to_ascii_uppercase())),
        }
    }

    fn eat(&mut self, punct: &str) -> bool {
        let found = matches!(self.peek(), Some(Token::Punct(p)) if *p == punct);
        self.at += usize::from(found);
        found
    }

    fn punct(&mut self, punct: &str) -> Result<(), String> {
        match self.eat(punct) {
            true => Ok(()),
            false => Err(self.expected(&format!("'{punct}'"))),
        }
    }

    /// Where token `at` sits (`line:column:length`).
    fn pos(&self, at: usize) -> String {
        self.positions.get(at).map(Pos::to_string).unwrap_or_default()
    }

    /// True when the cursor is on a word followed by `(`: a function call.
    fn at_call(&self) -> bool {
        matches!(self.peek(), Some(Token::Word(_)))
            && matches!(self.tokens.get(self.at + 1), Some(Token::Punct("(")))
    }

    /// Reads a call's `(operand, ...)` after its name (the cursor on the name).
    fn call_args(&mut self) -> Result<Vec<Operand>, String> {
        self.at += 2;
        let mut args = Vec::new();
        while !self.eat(")") {
            if !args.is_empty() {
                self.punct(",")?;
            }
            args.push(self.operand()?);
        }
        Ok(args)
    }

    /// Keeps the first refusal of something read.
    fn defer(&mut self, message: impl Into<String>) {
        self.deferred.get_or_insert_with(|| message.into());
    }

    fn is_any(&self, words: &[&str]) -> bool {
        words.iter().any(|w| self.is_word(w))
    }

    /// Refuses, as AWS's parser does, a place where a term should start and none does.
    fn term_start(&self) -> Result<(), String> {
        match self.peek() {
            None => Err(NO_TERM.into()),
            Some(Token::Word(_)) if self.is_any(&OPERATORS) => Err("Unexpected operator".into()),
            Some(Token::Word(_)) if self.is_any(&KEYWORDS) => Err("Unexpected keyword".into()),
            _ => Ok(()),
        }
    }

    /// After a binary operator: its right-hand side must be there.
    fn right_side(&self) -> Result<(), String> {
        match self.peek() {
            None => Err(NO_RIGHT.into()),
            _ => Ok(()),
        }
    }

    /// The table of an INSERT, UPDATE or DELETE: a name that is no keyword.
    fn target(&mut self) -> Result<String, String> {
        match self.peek() {
            Some(Token::Quoted(_)) => self.name(),
            Some(Token::Word(_)) if !self.is_any(&KEYWORDS) && !self.is_any(&OPERATORS) => {
                self.name()
            }
            _ => Err(NO_TABLE.into()),
        }
    }

    /// A table alias after a table name (`t`, `AS t`), which DynamoDB refuses: any word
    /// but the clause keywords in `clauses`.
    fn alias(&mut self, clauses: &[&str]) -> Result<(), String> {
        if self.eat_word("AS") {
            self.name()?;
            self.defer("Aliasing is not supported");
        } else if matches!(self.peek(), Some(Token::Word(_)) | Some(Token::Quoted(_)))
            && !self.is_any(clauses)
        {
            self.at += 1;
            self.defer("Aliasing is not supported");
        }
        Ok(())
    }

    fn expected(&self, what: &str) -> String {
        match self.peek() {
            Some(t) => format!("Expected {what}, found {}", describe(t)),
            None => format!("Expected {what} at the end of the statement"),
        }
    }

    fn statement(&mut self) -> Result<Statement, String> {
        if self.eat_word("SELECT") {
            return self.select();
        }
        if self.eat_word("INSERT") {
            self.word("INTO")?;
            let table = self.target()?;
            if self.peek().is_some() && !self.is_word("VALUE") {
                return Err(LEFTOVER.into());
            }
            self.word("VALUE")?;
            self.item = true;
            let item = self.value()?;
            self.item = false;
            if !matches!(item, Value::Map(_) | Value::Param(_)) {
                return Err("INSERT takes a tuple: VALUE {'attribute': value, ...}".into());
            }
            return Ok(Statement::Insert { table, item });
        }
        if self.eat_word("UPDATE") {
            return self.update();
        }
        if self.eat_word("DELETE") {
            self.word("FROM")?;
            let table = self.target()?;
            self.alias(&["WHERE", "RETURNING"])?;
            self.word("WHERE")?;
            let filter = self.expr()?;
            let returning = self.returning()?;
            if returning.is_some_and(|r| r != "ALL_OLD") {
                return Err("Only RETURNING ALL OLD * is allowed in DELETE statements".into());
            }
            return Ok(Statement::Delete { table, filter, returning });
        }
        if self.eat_word("EXISTS") {
            self.punct("(")?;
            self.word("SELECT")?;
            let Statement::Select { table, filter, .. } = self.select()? else { unreachable!() };
            self.punct(")")?;
            let filter = filter.ok_or("EXISTS needs a WHERE clause")?;
            return Ok(Statement::Exists { table, filter });
        }
        if self.eat_word("FROM") {
            return self.update_from_first();
        }
        let refusal = self.expected("SELECT, INSERT, UPDATE, DELETE or EXISTS");
        // A bare type test (`x IS INT4`) reads as an expression, which AWS then refuses
        // by what it is.
        let start = self.at;
        if self.expr().is_ok() && self.peek().is_none() && self.deferred.as_deref() == Some(IS_TYPE)
        {
            return Ok(Statement::Select {
                table: String::new(),
                index: None,
                projection: Vec::new(),
                filter: None,
                order: Vec::new(),
            });
        }
        self.at = start;
        self.deferred = None;
        Err(refusal)
    }

    /// `FROM t [WHERE ...] SET ... | REMOVE ... [RETURNING ...]`: DynamoDB's other
    /// spelling of UPDATE, the WHERE clause ahead of the assignments.
    fn update_from_first(&mut self) -> Result<Statement, String> {
        let table = self.target()?;
        let filter = match self.eat_word("WHERE") {
            true => self.expr()?,
            false => {
                // Names no key: refused as an UPDATE without its key is.
                self.defer(super::translate::NO_KEY);
                Expr::Not(Box::new(Expr::Missing(vec![Segment::Name(String::new())], true)))
            }
        };
        let (sets, removes) = self.assignments()?;
        let returning = self.returning()?;
        Ok(Statement::Update { table, sets, removes, filter, returning })
    }

    fn select(&mut self) -> Result<Statement, String> {
        let mut projection = Vec::new();
        if !self.eat("*") {
            loop {
                if self.at_call() {
                    // SELECT projects paths, not calls (AWS names the call's place).
                    let at = self.pos(self.at);
                    self.defer(format!("Unexpected path component at {at}"));
                    self.call_args()?;
                    if !self.eat(",") {
                        break;
                    }
                    continue;
                }
                projection.push(self.path()?);
                if !self.eat(",") {
                    break;
                }
            }
        }
        self.word("FROM")?;
        self.term_start()?;
        let table = self.name()?;
        let index = if self.eat(".") { Some(self.name()?) } else { None };
        self.alias(&["WHERE", "ORDER", "RETURNING"])?;
        let filter = if self.eat_word("WHERE") { Some(self.expr()?) } else { None };
        let mut order = Vec::new();
        if self.eat_word("ORDER") {
            self.word("BY")?;
            loop {
                let key = self.name().map_err(|_| self.expected("a key"))?;
                let desc = self.eat_word("DESC");
                if !desc {
                    self.eat_word("ASC");
                }
                order.push((key, desc));
                if !self.eat(",") {
                    break;
                }
            }
        }
        Ok(Statement::Select { table, index, projection, filter, order })
    }

    fn update(&mut self) -> Result<Statement, String> {
        let table = self.target()?;
        self.alias(&["SET", "REMOVE", "WHERE"])?;
        let (sets, removes) = self.assignments()?;
        self.word("WHERE")?;
        let filter = self.expr()?;
        let returning = self.returning()?;
        Ok(Statement::Update { table, sets, removes, filter, returning })
    }

    /// The rules of a SET's function call. set_add and set_delete are refused as AWS
    /// words it, with the position of the call (or of its first argument); the others
    /// take two arguments.
    fn check_set_function(
        &mut self,
        function: &str,
        name_at: usize,
        target: &Path,
        args: &[Operand],
    ) -> Result<(), String> {
        if !function.starts_with("set_") {
            return match args.len() {
                2 => Ok(()),
                _ => Err(format!("{function} takes 2 arguments")),
            };
        }
        let upper = function.to_ascii_uppercase();
        let at = self.pos(name_at);
        if args.len() != 2 {
            self.defer(format!("{upper} must have exactly two arguments at {at}"));
            return Ok(());
        }
        if !matches!(&args[0], Operand::Path(p) if p == target) {
            self.defer(format!(
                "The first argument to {upper} must equal the assignment value at {at}"
            ));
            return Ok(());
        }
        let not_a_set = matches!(
            &args[1],
            Operand::Value(
                Value::Str(_)
                    | Value::Num(_)
                    | Value::Bool(_)
                    | Value::Null
                    | Value::List(_)
                    | Value::Map(_)
            )
        );
        if not_a_set {
            let first = self.pos(name_at + 2);
            self.defer(format!(
                "The second argument to {upper} must be a value with type SET at {first}"
            ));
        }
        Ok(())
    }

    /// The SET and REMOVE clauses of an update, at least one.
    #[allow(clippy::type_complexity)]
    fn assignments(&mut self) -> Result<(Vec<(Path, SetValue)>, Vec<Path>), String> {
        let (mut sets, mut removes) = (Vec::new(), Vec::new());
        let mut refused = false;
        loop {
            if self.eat_word("SET") {
                loop {
                    let path = self.path()?;
                    self.punct("=")?;
                    const FUNCTIONS: [&str; 4] =
                        ["list_append", "if_not_exists", "set_add", "set_delete"];
                    let called = FUNCTIONS.iter().find(|f| self.is_word(f)).copied();
                    if let Some(function) = called
                        && self.at_call()
                    {
                        let name_at = self.at;
                        let args = self.call_args()?;
                        self.check_set_function(function, name_at, &path, &args)?;
                        let mut args = args.into_iter();
                        // Without two arguments it was refused above: nothing to keep.
                        refused |= args.len() != 2;
                        if let (Some(first), Some(second)) = (args.next(), args.next()) {
                            sets.push((path, SetValue::Function(function, first, second)));
                        }
                        if !self.eat(",") {
                            break;
                        }
                        continue;
                    }
                    let left = self.operand()?;
                    let value = if self.eat("+") {
                        SetValue::Arithmetic(left, "+", self.operand()?)
                    } else if self.eat("-") {
                        SetValue::Arithmetic(left, "-", self.operand()?)
                    } else {
                        SetValue::Operand(left)
                    };
                    sets.push((path, value));
                    if !self.eat(",") {
                        break;
                    }
                }
            } else if self.eat_word("REMOVE") {
                loop {
                    removes.push(self.path()?);
                    if !self.eat(",") {
                        break;
                    }
                }
            } else {
                break;
            }
        }
        if sets.is_empty() && removes.is_empty() && !refused {
            return Err(self.expected("SET or REMOVE"));
        }
        Ok((sets, removes))
    }

    /// `RETURNING (ALL | MODIFIED) (OLD | NEW) *`, if there.
    fn returning(&mut self) -> Result<Returning, String> {
        if !self.eat_word("RETURNING") {
            return Ok(None);
        }
        let all = if self.eat_word("ALL") {
            true
        } else if self.eat_word("MODIFIED") {
            false
        } else {
            return Err(self.expected("ALL or MODIFIED"));
        };
        let old = if self.eat_word("OLD") {
            true
        } else if self.eat_word("NEW") {
            false
        } else {
            return Err(self.expected("OLD or NEW"));
        };
        self.punct("*")?;
        Ok(Some(match (all, old) {
            (true, true) => "ALL_OLD",
            (false, true) => "UPDATED_OLD",
            (true, false) => "ALL_NEW",
            (false, false) => "UPDATED_NEW",
        }))
    }

    /// A table or index name.
    fn name(&mut self) -> Result<String, String> {
        match self.next()? {
            Token::Word(w) | Token::Quoted(w) => Ok(w),
            t => Err(format!("Expected a table name, found {}", describe(&t))),
        }
    }

    fn path(&mut self) -> Result<Path, String> {
        let mut path = vec![Segment::Name(self.name().map_err(|_| self.expected("a path"))?)];
        loop {
            if self.eat(".") {
                // A reserved word after a dot must be quoted (AWS, nubo-db/dynamodb-
                // conformance error-messages/partiqlFunctions: `m.inner`).
                if matches!(self.peek(), Some(Token::Word(_)))
                    && (self.is_any(&KEYWORDS) || self.is_any(&OPERATORS) || self.is_any(&RESERVED))
                {
                    return Err("Invalid path dot component".into());
                }
                path.push(Segment::Name(self.name()?));
            } else if self.eat("[") {
                let index = match self.next()? {
                    Token::Num(n) => n.parse::<u32>().map_err(|_| format!("Invalid index {n}"))?,
                    t => return Err(format!("Expected a list index, found {}", describe(&t))),
                };
                self.punct("]")?;
                path.push(Segment::Index(index));
            } else {
                return Ok(path);
            }
        }
    }

    /// Runs `f` one level deeper, refusing past [`MAX_DEPTH`].
    fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T, String>) -> Result<T, String> {
        if self.depth >= MAX_DEPTH {
            return Err(format!("The statement nests more than {MAX_DEPTH} levels deep"));
        }
        self.depth += 1;
        let out = f(self);
        self.depth -= 1;
        out
    }

    fn expr(&mut self) -> Result<Expr, String> {
        self.nested(|p| {
            let mut left = p.and()?;
            while p.eat_word("OR") {
                p.right_side()?;
                left = Expr::Or(Box::new(left), Box::new(p.and()?));
            }
            Ok(left)
        })
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.not()?;
        while self.eat_word("AND") {
            self.right_side()?;
            left = Expr::And(Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr, String> {
        if self.eat_word("NOT") {
            return self.nested(|p| Ok(Expr::Not(Box::new(p.not()?))));
        }
        self.predicate()
    }

    fn predicate(&mut self) -> Result<Expr, String> {
        self.term_start()?;
        if self.eat("(") {
            let inner = self.expr()?;
            self.punct(")")?;
            return Ok(inner);
        }
        const FUNCTIONS: [(&str, usize); 5] = [
            ("begins_with", 2),
            ("contains", 2),
            ("attribute_exists", 1),
            ("attribute_not_exists", 1),
            ("attribute_type", 2),
        ];
        let called = FUNCTIONS.iter().find(|(f, _)| self.is_word(f));
        if called.is_none() && self.at_call() && !self.is_word("size") {
            // A function DynamoDB's PartiQL does not have here (set_add in a WHERE,
            // EXISTS(path)): read, and refused with where it sits.
            let Some(Token::Word(name)) = self.peek().cloned() else { unreachable!() };
            self.defer(format!(
                "Unrecognized function: {} at {}",
                name.to_ascii_lowercase(),
                self.pos(self.at)
            ));
            self.call_args()?;
            for op in ["=", "<>", "!=", "<=", ">=", "<", ">"] {
                if self.eat(op) {
                    self.operand()?;
                    break;
                }
            }
            return Ok(Expr::Function("attribute_exists", Vec::new()));
        }
        if let Some(&(function, arity)) = called
            && self.at_call()
        {
            let args = self.call_args()?;
            if args.len() != arity {
                // The condition expression's message (AWS, nubo-db/dynamodb-conformance
                // error-messages/partiqlFunctions).
                self.defer(format!(
                    "Incorrect number of operands for operator or function; operator or function: {function}, number of operands: {}",
                    args.len()
                ));
            }
            let test = Expr::Function(function, args);
            // `f(...) = true` (or `<> false`) is the test itself; `= false` its negation.
            for (op, negate) in [("=", false), ("<>", true), ("!=", true)] {
                let truth = |p: &Self, w| matches!(p.tokens.get(p.at + 1), Some(Token::Word(x)) if x.eq_ignore_ascii_case(w));
                let is = |p: &Self| matches!(p.peek(), Some(Token::Punct(x)) if *x == op);
                if is(self) && (truth(self, "TRUE") || truth(self, "FALSE")) {
                    let holds = truth(self, "TRUE") != negate;
                    self.at += 2;
                    return Ok(if holds { test } else { Expr::Not(Box::new(test)) });
                }
            }
            return Ok(test);
        }
        let left = self.operand()?;
        for op in ["=", "<>", "!=", "<=", ">=", "<", ">"] {
            if self.eat(op) {
                let op = if op == "!=" { "<>" } else { op };
                self.right_side()?;
                self.term_start()?;
                return Ok(Expr::Compare(left, op, self.operand()?));
            }
        }
        if self.eat_word("BETWEEN") {
            let low = self.operand()?;
            self.word("AND")?;
            return Ok(Expr::Between(left, low, self.operand()?));
        }
        if self.eat_word("IN") {
            let close = if self.eat("(") {
                ")"
            } else {
                self.punct("[")?;
                "]"
            };
            let mut list = Vec::new();
            loop {
                list.push(self.operand()?);
                if !self.eat(",") {
                    break;
                }
            }
            self.punct(close)?;
            return Ok(Expr::In(left, list));
        }
        if self.eat_word("IS") {
            let negated = self.eat_word("NOT");
            let Operand::Path(path) = left else {
                return Err("IS needs an attribute path on its left".into());
            };
            if self.eat_word("MISSING") {
                return Ok(Expr::Missing(path, !negated));
            }
            if self.eat_word("NULL") {
                return Ok(Expr::Null(path, !negated));
            }
            return self.type_test(path, negated);
        }
        Err(self.expected("a comparison"))
    }

    /// `path IS [NOT] <type>`: DynamoDB's attribute types as `attribute_type`; PartiQL's
    /// other type names read, and are refused.
    fn type_test(&mut self, path: Path, negated: bool) -> Result<Expr, String> {
        if let Some(&(_, ty)) = TYPES.iter().find(|(name, _)| self.is_word(name)) {
            self.at += 1;
            let test = Expr::Function(
                "attribute_type",
                vec![Operand::Path(path), Operand::Value(Value::Str(ty.into()))],
            );
            return Ok(if negated { Expr::Not(Box::new(test)) } else { test });
        }
        if self.is_any(&OTHER_TYPES) {
            let two_words = self.is_word("DOUBLE") || self.is_word("CHARACTER");
            self.at += 1;
            if two_words {
                // DOUBLE PRECISION, CHARACTER VARYING (CHARACTER alone is a type too).
                let _ = self.eat_word("PRECISION") || self.eat_word("VARYING");
            }
            self.defer(IS_TYPE);
            return Ok(Expr::Missing(path, negated));
        }
        Err("Expected type name".into())
    }

    fn operand(&mut self) -> Result<Operand, String> {
        if self.is_word("size") && matches!(self.tokens.get(self.at + 1), Some(Token::Punct("("))) {
            self.at += 2;
            let path = self.path()?;
            self.punct(")")?;
            return Ok(Operand::Size(path));
        }
        let literal = matches!(
            self.peek(),
            Some(Token::Str(_) | Token::Num(_) | Token::Param | Token::Punct("[" | "{" | "<<"))
        ) || ["TRUE", "FALSE", "NULL"].iter().any(|w| self.is_word(w));
        if literal {
            return Ok(Operand::Value(self.value()?));
        }
        Ok(Operand::Path(self.path()?))
    }

    fn value(&mut self) -> Result<Value, String> {
        self.nested(Self::value_here)
    }

    fn value_here(&mut self) -> Result<Value, String> {
        match self.next()? {
            Token::Str(s) => Ok(Value::Str(s)),
            Token::Num(n) => {
                // DynamoDB's range, checked where the literal is read: AWS names where
                // in the value it sits ("under root.x").
                if let Err(e) = Number::parse(&n) {
                    let at: String = self.literal.concat();
                    self.defer(format!("{e} under root{at}"));
                }
                Ok(Value::Num(n))
            }
            Token::Param => {
                self.params += 1;
                Ok(Value::Param(self.params - 1))
            }
            Token::Word(w) if w.eq_ignore_ascii_case("TRUE") => Ok(Value::Bool(true)),
            Token::Word(w) if w.eq_ignore_ascii_case("FALSE") => Ok(Value::Bool(false)),
            Token::Word(w) if w.eq_ignore_ascii_case("NULL") => Ok(Value::Null),
            Token::Word(w) if matches!(self.peek(), Some(Token::Punct("("))) => {
                // A call where a value should be (set_add in an INSERT).
                let at: String = self.literal.concat();
                let pos = self.pos(self.at - 1);
                self.defer(format!(
                    "Unsupported data type: {} under key root{at} at {pos}",
                    w.to_ascii_lowercase()
                ));
                self.at += 1;
                self.values(")")?;
                Ok(Value::Null)
            }
            Token::Punct("[") => Ok(Value::List(self.values("]")?)),
            Token::Punct("<<") => Ok(Value::Bag(self.values(">>")?)),
            Token::Punct("{") => {
                let item = std::mem::take(&mut self.item);
                let mut entries = Vec::new();
                if !self.eat("}") {
                    loop {
                        let key = match self.next()? {
                            Token::Str(k) | Token::Quoted(k) => k,
                            t => {
                                return Err(format!(
                                    "Expected a quoted key, found {}",
                                    describe(&t)
                                ));
                            }
                        };
                        self.punct(":")?;
                        // An INSERT's item is no value: each attribute's value is a root.
                        let segment = if item { String::new() } else { format!(".{key}") };
                        self.literal.push(segment);
                        let value = self.value();
                        self.literal.pop();
                        entries.push((key, value?));
                        if !self.eat(",") {
                            break;
                        }
                    }
                    self.punct("}")?;
                }
                Ok(Value::Map(entries))
            }
            t => Err(format!("Expected a value, found {}", describe(&t))),
        }
    }

    fn values(&mut self, close: &'static str) -> Result<Vec<Value>, String> {
        let mut out = Vec::new();
        if self.eat(close) {
            return Ok(out);
        }
        loop {
            self.literal.push(format!("[{}]", out.len()));
            let value = self.value();
            self.literal.pop();
            out.push(value?);
            if !self.eat(",") {
                break;
            }
        }
        self.punct(close)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(n: &str) -> Segment {
        Segment::Name(n.into())
    }

    #[test]
    fn every_statement_kind_parses() {
        let s = parse(
            r#"SELECT a, b.c[1] FROM "t"."idx" WHERE pk = ? AND NOT (x > 3 OR y IS MISSING)"#,
        )
        .unwrap();
        let Statement::Select { table, index, projection, filter, .. } = s else { panic!() };
        assert_eq!((table.as_str(), index.as_deref()), ("t", Some("idx")));
        assert_eq!(projection[1], vec![name("b"), name("c"), Segment::Index(1)]);
        assert!(matches!(filter, Some(Expr::And(..))));
        let s = parse("INSERT INTO t VALUE {'pk': 'a', 'n': 1, 'l': [1, 'x'], 's': <<'a','b'>>}")
            .unwrap();
        let Statement::Insert { item: Value::Map(entries), .. } = s else { panic!() };
        assert_eq!(entries.len(), 4);
        let s = parse("UPDATE t SET a = a + 1, b = ? SET c = 'x' REMOVE d WHERE pk = 'k'").unwrap();
        let Statement::Update { sets, removes, .. } = s else { panic!() };
        assert_eq!((sets.len(), removes.len()), (3, 1));
        assert!(matches!(sets[1].1, SetValue::Operand(Operand::Value(Value::Param(0)))));
        assert!(matches!(parse("delete from t where pk = 1").unwrap(), Statement::Delete { .. }));
        let s = parse("UPDATE t SET l = list_append(l, [1]), n = if_not_exists(n, 0) SET s = set_add(s, <<'a'>>) WHERE pk = 1 RETURNING MODIFIED NEW *").unwrap();
        let Statement::Update { sets, returning, .. } = s else { panic!() };
        assert!(matches!(sets[0].1, SetValue::Function("list_append", ..)));
        assert!(matches!(sets[2].1, SetValue::Function("set_add", ..)));
        assert_eq!(returning, Some("UPDATED_NEW"));
        let s = parse("DELETE FROM t WHERE pk = 1 RETURNING ALL OLD *").unwrap();
        assert!(matches!(s, Statement::Delete { returning: Some("ALL_OLD"), .. }));
        assert!(parse("DELETE FROM t WHERE pk = 1 RETURNING ALL NEW *").is_err());
        let s = parse("EXISTS(SELECT * FROM t WHERE pk = 'a' AND begins_with(s, 'x'))").unwrap();
        assert!(matches!(s, Statement::Exists { .. }));
    }

    #[test]
    fn malformed_statements_say_what_is_wrong() {
        let malformed = |detail: &str| Err(Refusal::Malformed(detail.into()));
        assert_eq!(parse("SELECT * t"), malformed("Expected FROM, found 't'"));
        assert!(parse("SELEKT * FROM t").is_err());
        assert!(parse("UPDATE t WHERE pk = 1").is_err());
        assert!(parse("INSERT INTO t VALUE 3").is_err());
        assert!(parse("SELECT * FROM t WHERE").is_err());
        assert!(parse("SELECT * FROM t extra").is_err());
        assert!(parse("SELECT * FROM t WHERE begins_with(a)").is_err());
        // Deep nesting is refused, not recursed into.
        let deep = format!("SELECT * FROM t WHERE {}a = 1{}", "(".repeat(5000), ")".repeat(5000));
        assert!(
            matches!(parse(&deep), Err(Refusal::Malformed(m)) if m.contains("nests more than"))
        );
        let nots = format!("SELECT * FROM t WHERE {}a = 1", "NOT ".repeat(2000));
        assert!(parse(&nots).is_err());
        let lists =
            format!("INSERT INTO t VALUE {{'a': {}1{}}}", "[".repeat(3000), "]".repeat(3000));
        assert!(parse(&lists).is_err());
        let ands = format!("SELECT * FROM t WHERE a = 1{}", " AND a = 1".repeat(800));
        assert!(parse(&ands).is_ok(), "a long flat chain is fine");
    }

    /// AWS's own words, recorded against AWS (nubo-db/dynamodb-conformance
    /// error-messages/partiqlGrammar and partiqlFunctions, eu-west-2, October 2026).
    #[test]
    fn refusals_are_worded_as_aws_words_them() {
        let malformed = |detail: &str| Err(Refusal::Malformed(detail.into()));
        let plain = |message: &str| Err(Refusal::Plain(message.into()));
        for leftover in [
            "SELECT * FROM t WHERE pk = 1 foo",
            "SELECT * FROM t WHERE pk = 1 e5",
            "INSERT INTO t VALUE {'pk': 1} foo",
            "INSERT INTO t x VALUE {'pk': 1}",
            "UPDATE t SET a = 9 WHERE pk = 2 foo",
            "SELECT * FROM t WHERE pk = 1)",
            "DELETE FROM t WHERE pk = 4 ORDER BY pk",
            "SELECT * FROM t ORDER BY pk WHERE pk = 1",
            "FROM t SET c = 1 WHERE pk = 'x'",
        ] {
            assert_eq!(parse(leftover), malformed(LEFTOVER), "{leftover}");
        }
        for unreadable in [
            "SELECT * FROM t WHERE pk = 1e2147483648",
            "SELECT * FROM t WHERE pk = 1.5e-2147483647",
            "SELECT * FROM t WHERE pk = 1 # note",
            "SELECT * FROM t WHERE pk = 1 /* note",
        ] {
            assert_eq!(parse(unreadable), malformed(""), "{unreadable}");
        }
        for no_term in [
            "SELECT * FROM t WHERE",
            "SELECT * FROM t WHERE;",
            "UPDATE t SET a = 1 WHERE",
            "SELECT * FROM t WHERE NOT",
            "SELECT * FROM t WHERE (",
            "SELECT * FROM",
        ] {
            assert_eq!(parse(no_term), malformed(NO_TERM), "{no_term}");
        }
        assert_eq!(parse("SELECT * FROM t WHERE pk = 'a' AND"), malformed(NO_RIGHT));
        assert_eq!(parse("SELECT * FROM t WHERE pk = 'a' OR"), malformed(NO_RIGHT));
        assert_eq!(parse("SELECT * FROM t WHERE ORDER BY pk"), malformed("Unexpected keyword"));
        assert_eq!(parse("SELECT * FROM t WHERE IS NULL"), malformed("Unexpected operator"));
        assert_eq!(parse("SELECT * FROM t WHERE pk = LIKE"), malformed("Unexpected operator"));
        assert_eq!(parse("SELECT * FROM t WHERE x IS FOO"), malformed("Expected type name"));
        for no_table in
            ["DELETE FROM", "DELETE FROM   ", "DELETE FROM;", "DELETE FROM WHERE pk = 'a'"]
        {
            assert_eq!(parse(no_table), malformed(NO_TABLE), "{no_table}");
        }
        for aliased in [
            "SELECT * FROM t x WHERE pk = 'x'",
            "SELECT * FROM t AS x WHERE pk = 'x'",
            "UPDATE t x SET a = 3 WHERE pk = 'x'",
            "DELETE FROM t x WHERE pk = 'x'",
        ] {
            assert_eq!(parse(aliased), plain("Aliasing is not supported"), "{aliased}");
        }
        for ty in ["INT4", "INT8", "DOUBLE PRECISION", "CHARACTER VARYING"] {
            assert_eq!(parse(&format!("x IS {ty}")), plain(IS_TYPE), "{ty}");
        }
        let overflow = "Number overflow. Attempting to store a number with magnitude larger than supported range";
        assert_eq!(
            parse("SELECT * FROM t WHERE pk = 1e126"),
            plain(&format!("{overflow} under root"))
        );
        let item = "INSERT INTO t VALUE {'pk': 1, 'm': {'x': 1e126}}";
        assert_eq!(parse(item), plain(&format!("{overflow} under root.x")));
        let item = "INSERT INTO t VALUE {'pk': 1, 'l': [1, 1e126]}";
        assert_eq!(parse(item), plain(&format!("{overflow} under root[1]")));
        assert_eq!(
            parse("SELECT * FROM t WHERE attribute_exists()"),
            plain(
                "Incorrect number of operands for operator or function; operator or function: attribute_exists, number of operands: 0"
            )
        );
    }

    /// The refusals AWS words with a position: `line:column:length` of the call, or of
    /// its first argument (nubo-db/dynamodb-conformance error-messages/partiqlFunctions).
    #[test]
    fn refusals_name_where_they_sit() {
        let plain = |message: &str| Err(Refusal::Plain(message.into()));
        let update = "UPDATE t SET t = set_add(ss, <<'x'>>) WHERE pk = 'a'";
        assert_eq!(
            parse(update),
            plain("The first argument to SET_ADD must equal the assignment value at 1:18:7")
        );
        let update = "UPDATE t SET ss = set_delete(ss, 'x') WHERE pk = 'a'";
        assert_eq!(
            parse(update),
            plain("The second argument to SET_DELETE must be a value with type SET at 1:30:2")
        );
        let update = "UPDATE t SET ss = set_add(ss) WHERE pk = 'a'";
        assert_eq!(parse(update), plain("SET_ADD must have exactly two arguments at 1:19:7"));
        let select = "SELECT * FROM t WHERE pk = 'a' AND EXISTS(ss)";
        assert_eq!(parse(select), plain("Unrecognized function: exists at 1:36:6"));
        assert_eq!(
            parse("SELECT attribute_exists(ss) FROM t"),
            plain("Unexpected path component at 1:8:16")
        );
        assert_eq!(
            parse("INSERT INTO t VALUE {'pk': 'a', 'ss': set_add(<<'a'>>, <<'b'>>)}"),
            plain("Unsupported data type: set_add under key root at 1:39:7")
        );
        assert_eq!(
            parse("SELECT * FROM t WHERE attribute_exists(m.inner)"),
            Err(Refusal::Malformed("Invalid path dot component".into()))
        );
    }

    proptest::proptest! {
        /// Any sequence of PartiQL's pieces parses or is refused: never a panic, whatever
        /// positions, calls and half-statements it holds.
        #[test]
        fn arbitrary_statements_never_panic(parts in proptest::collection::vec(0usize..PIECES.len(), 0..24)) {
            let text: Vec<&str> = parts.iter().map(|&i| PIECES[i]).collect();
            let _ = parse(&text.join(" "));
        }
    }

    const PIECES: [&str; 40] = [
        "SELECT",
        "*",
        "FROM",
        "t",
        "\"t\"",
        ".",
        "WHERE",
        "pk",
        "=",
        "'a'",
        "1e126",
        "AND",
        "OR",
        "NOT",
        "(",
        ")",
        "set_add",
        "EXISTS",
        ",",
        "<<",
        ">>",
        "[",
        "]",
        "{",
        "}",
        ":",
        "?",
        "UPDATE",
        "SET",
        "REMOVE",
        "INSERT",
        "INTO",
        "VALUE",
        "DELETE",
        "IS",
        "INT4",
        "attribute_exists",
        "ORDER",
        "BY",
        "/*",
    ];

    #[test]
    fn accepted_forms_aws_reads() {
        assert!(parse("SELECT * FROM t /* a note */ WHERE pk = 'c' /* after */").is_ok());
        let s = parse("SELECT * FROM t WHERE attribute_exists(ss) = true").unwrap();
        assert!(matches!(s, Statement::Select { filter: Some(Expr::Function(..)), .. }));
        let s = parse("SELECT * FROM t WHERE attribute_exists(ss) = false").unwrap();
        assert!(matches!(s, Statement::Select { filter: Some(Expr::Not(_)), .. }));
        let s = parse("SELECT * FROM t WHERE flag IS BOOL AND s IS NOT STRING").unwrap();
        assert!(matches!(s, Statement::Select { filter: Some(Expr::And(..)), .. }));
        let s = parse("from t where pk = 'k' set c = 1 remove a returning all new *").unwrap();
        let Statement::Update { sets, removes, returning, .. } = s else { panic!() };
        assert_eq!((sets.len(), removes.len(), returning), (1, 1, Some("ALL_NEW")));
        assert_eq!(
            parse("FROM t SET c = 1"),
            Err(Refusal::Plain(crate::api::dynamodb::partiql::translate::NO_KEY.into()))
        );
    }
}
