"""The TeX that a bank may write inside `$…$` and `$$…$$`: an allowlist of commands that typeset mathematics.

Anki renders card math with MathJax, which also knows commands that make links
(`\\href`), styles (`\\style`, `\\bbox`), classes and ids (`\\class`, `\\cssId`), load
extensions (`\\require`) or define macros (`\\def`). From a pull request, those are script
injection. So math is checked against an allowlist, before it reaches any output: the card
(MathJax) and the printed sheet (MathML) see the same, checked TeX.

The scan is one pass over the text, with no regular expression.
"""

from __future__ import annotations

from dataclasses import dataclass

from deckgen.model import clipped

_GREEK = (
    "alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa varkappa lambda mu nu xi "
    "omicron pi varpi rho varrho sigma varsigma tau upsilon phi varphi chi psi omega "
    "Gamma Delta Theta Lambda Xi Pi Sigma Upsilon Phi Psi Omega "
    "varGamma varDelta varTheta varLambda varXi varPi varSigma varUpsilon varPhi varPsi varOmega digamma"
)
_SYMBOLS = (
    "infty partial nabla ell hbar hslash imath jmath Re Im aleph beth wp emptyset varnothing prime "
    "top bot forall exists nexists neg lnot angle triangle surd flat natural sharp dagger ddagger "
    "checkmark square blacksquare Box diamond clubsuit diamondsuit heartsuit spadesuit star ast bullet "
    "cdots ldots vdots ddots dots dotsc dotsb dotsm dotsi cdotp ldotp colon backslash vert Vert "
    "lvert rvert lVert rVert langle rangle lfloor rfloor lceil rceil lbrace rbrace lbrack rbrack "
    "uparrow downarrow updownarrow Uparrow Downarrow Updownarrow lt gt"
)
_OPERATORS = (
    "cdot times div pm mp circ odot oplus otimes ominus oslash bigodot bigoplus bigotimes wedge vee land lor "
    "cap cup sqcap sqcup setminus smallsetminus uplus amalg wr bigcap bigcup bigsqcup biguplus bigwedge bigvee "
    "sum prod coprod int iint iiint oint intop smallint "
    "le leq ge geq ne neq approx approxeq sim simeq cong equiv propto ll gg lll ggg "
    "leqslant geqslant lesssim gtrsim prec succ preceq succeq "
    "subset supset subseteq supseteq subsetneq supsetneq in notin ni owns mid nmid parallel nparallel perp "
    "models vdash dashv asymp doteq triangleq coloneqq eqqcolon "
    "to gets leftarrow rightarrow Leftarrow Rightarrow leftrightarrow Leftrightarrow longleftarrow "
    "longrightarrow Longleftarrow Longrightarrow longleftrightarrow Longleftrightarrow mapsto longmapsto "
    "hookleftarrow hookrightarrow iff implies impliedby nearrow searrow swarrow nwarrow "
    "rightleftharpoons leftharpoonup rightharpoonup xrightarrow xleftarrow not"
)
_FUNCTIONS = (
    "arccos arcsin arctan arg cos cosh cot coth csc deg det dim exp gcd hom inf ker lg lim liminf limsup ln log "
    "max min Pr sec sin sinh sup tan tanh argmax argmin operatorname"
)
_STRUCTURE = (
    "frac dfrac tfrac cfrac binom dbinom tbinom sqrt root of "
    "left right middle big Big bigg Bigg bigl bigr Bigl Bigr biggl biggr Biggl Biggr bigm Bigm biggm Biggm "
    "limits nolimits displaystyle textstyle scriptstyle scriptscriptstyle "
    "hat widehat check tilde widetilde acute grave dot ddot dddot breve bar vec mathring "
    "overline underline overbrace underbrace overleftarrow overrightarrow overleftrightarrow "
    "overset underset stackrel substack boxed phantom hphantom vphantom smash mathstrut strut "
    "mathrm mathbf mathit mathsf mathtt mathcal mathbb mathfrak mathscr mathnormal boldsymbol bm pmb "
    "mathop mathbin mathrel mathord mathopen mathclose mathpunct "
    "text textrm textbf textit textsf texttt textnormal mbox "
    "quad qquad thinspace medspace thickspace enspace negthinspace "
    "begin end hline cr"
)

ALLOWED_COMMANDS = frozenset(" ".join((_GREEK, _SYMBOLS, _OPERATORS, _FUNCTIONS, _STRUCTURE)).split())
"""Every `\\name` a bank may write in math."""

ALLOWED_CONTROL_SYMBOLS = frozenset(",;:! {}|\\#%&_$")
"""Every `\\x` (a backslash and one non-letter) a bank may write in math: spaces and escaped characters."""

ALLOWED_ENVIRONMENTS = frozenset(
    "matrix pmatrix bmatrix Bmatrix vmatrix Vmatrix smallmatrix cases aligned alignedat gathered split array subarray".split()
)
"""Every `\\begin{…}` a bank may write in math."""


@dataclass(frozen=True)
class TexProblem:
    """Something in a piece of math that deckgen will not pass on, and where it starts in the math."""

    offset: int
    message: str


def _shown(name: str) -> str:
    """A command name as a message shows it: on one line, never longer than 40 characters."""
    return clipped(name, 40)


def tex_problems(tex: str) -> list[TexProblem]:
    """Every command, control symbol or environment in `tex` that is not on the allowlist."""
    problems: list[TexProblem] = []
    length = len(tex)
    i = tex.find("\\")
    while i != -1:
        j = i + 1
        if j >= length:
            problems.append(TexProblem(i, "a lone '\\' ends the math"))
            break
        if tex[j].isascii() and tex[j].isalpha():
            while j < length and tex[j].isascii() and tex[j].isalpha():
                j += 1
            name = tex[i + 1 : j]
            if name not in ALLOWED_COMMANDS:
                problems.append(TexProblem(i, f"\\{_shown(name)} is not allowed in math"))
            elif name in ("begin", "end"):
                j = _environment(tex, j, name, i, problems)
        else:
            symbol = tex[j]
            j += 1
            if symbol not in ALLOWED_CONTROL_SYMBOLS:
                problems.append(TexProblem(i, f"\\{_shown(symbol)} is not allowed in math"))
        i = tex.find("\\", j)
    return problems


def _environment(tex: str, j: int, command: str, start: int, problems: list[TexProblem]) -> int:
    """Check the `{name}` after `\\begin` or `\\end` at `j`; return where the scan goes on."""
    k = j
    while k < len(tex) and tex[k] == " ":
        k += 1
    if k >= len(tex) or tex[k] != "{":
        problems.append(TexProblem(start, f"\\{command} needs an environment name in braces, such as \\{command}{{pmatrix}}"))
        return j
    close = tex.find("}", k + 1, k + 42)
    name = tex[k + 1 : close] if close != -1 else tex[k + 1 : k + 41]
    if close == -1 or name not in ALLOWED_ENVIRONMENTS:
        problems.append(TexProblem(start, f"environment '{_shown(name)}' is not allowed in math"))
        return j
    return close + 1


def braces_balanced(tex: str) -> bool:
    """True if every `{` in `tex` is closed by a `}` after it, reading `\\x` as one character as TeX and MathJax do.

    MathJax looks for the end of a formula only outside braces: a formula whose braces do not
    balance would run on past deckgen's closing delimiter, into text that no check has read.
    """
    depth = 0
    i = 0
    while i < len(tex):
        char = tex[i]
        if char == "\\":
            i += 2
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth < 0:
                return False
        i += 1
    return depth == 0
