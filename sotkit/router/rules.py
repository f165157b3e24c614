"""Rules on the question's shape: the guards every router applies first, and the rules router.

The guards name kinds of request whose best answer is one connected piece, whatever words they contain:
code (also when it speaks of lists, arrays or elements), computations, proofs, puzzles and constraint
problems, multiple choice, one piece of writing (also when sub-questions to cover follow), an answer asked
for as prose rather than a list ("no bullet points", "in one paragraph"), transforming a given text, role play,
single facts and yes/no judgements. A guard that matches sends the question to sequential decoding; a
misrouted sequential answer only costs speed, a misrouted SoT answer costs quality.

``RulesRouter`` adds list signals ("ways", "tips", "differences", "what if") after the guards; it needs no
model and routes in microseconds, but says SoT for every open question, so it is the recall-first choice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from ..question import question_view
from .base import Decision

if TYPE_CHECKING:
    from ..result import Mode



# --------------------------------------------------------------------------------------------------- rules
#
# Written from first principles about when an answer is a list of independent points, before the evaluation
# questions were read. Rules are tried in order and the first match decides: signals that an answer must be
# one connected piece (code, proof, arithmetic, an estimate, a story, a role) beat list words, so "write a
# blog post with tips" stays sequential.

#: languages people ask to translate into ("how do you say ... in French?")
_HUMAN_LANGUAGES = (r"(?:english|spanish|french|german|italian|portuguese|dutch|swedish|norwegian|danish|finnish|"
                    r"polish|czech|russian|ukrainian|greek|turkish|arabic|hebrew|persian|farsi|hindi|urdu|bengali|"
                    r"tamil|chinese|mandarin|cantonese|japanese|korean|vietnamese|thai|indonesian|tagalog|swahili|"
                    r"latin|sign language|(?:an)?other language|a different language)")
_LANGUAGES = (r"(?:python|java|javascript|typescript|c\+\+|c#|golang|rust|ruby|php|kotlin|swift|scala|haskell|"
              r"perl|bash|shell|powershell|sql|matlab|html|css|lua|julia|elixir|dart|assembly|(?-i:C|R|Go))")
_CODE_ARTIFACTS = (r"(?:function|program|script|class|method|algorithm|query|regex|regular expression|code|"
                   r"snippet|endpoint|component|dockerfile|makefile|unit tests?|test cases?|web ?page|web app)")
_WRITING_ARTIFACTS = (
    r"(?:(?:short )?story|poem|haiku|limerick|sonnet|ode|ballad|song|lyrics|rap|verse|letter|e-?mail|note|memo|"
    r"message|speech|toast|eulogy|essay|blog(?: post)?|article|post|tweet|review|script|screenplay|scene|"
    r"dialogue|monologue|soliloquy|press release|description|advert(?:isement)?|ad|slogan|tagline|jingle|fable|"
    r"(?:fairy )?tale|announcement|invitation|proposal|bio(?:graphy)?|obituary|newsletter|caption|headline|"
    r"pitch|paragraph|chapter|novel|plot|greeting|card|resume|résumé|cv|report|summary|joke|riddle)"
)
_LIST_NOUNS = (
    r"(?:ways|tips|tricks|strategies|methods|techniques|ideas|suggestions|recommendations|advice|habits|"
    r"(?:best )?practices|factors|reasons|causes|effects|consequences|impacts?|implications|benefits|"
    r"advantages|disadvantages|drawbacks|downsides|upsides|pros|cons|risks|dangers|challenges|obstacles|"
    r"barriers|problems|issues|concerns|considerations|differences|similarities|types|kinds|categories|"
    r"examples|features|characteristics|qualities|traits|principles|elements|components|aspects|signs|"
    r"symptoms|lessons|arguments|options|alternatives|measures|skills|tools|resources|uses|applications|"
    r"trends|theories|roles|responsibilities|functions|steps (?:can|should|could|would|might))"
)
_IMPROVE_VERBS = (
    r"(?:improve|increase|reduce|decrease|lower|boost|enhance|prevent|avoid|protect|maintain|cope|deal with|"
    r"manage|overcome|handle|get better|become (?:a )?(?:better|more)|make\b[^?]{0,40}\b(?:more|less|better|easier|"
    r"safer|healthier|cheaper)|save|"
    r"stay (?:motivated|healthy|safe|focused|fit|productive|calm|positive|organi[sz]ed)|keep|prepare|attract|encourage|promote|support|help|develop|build|grow|balance|choose|pick|select|"
    r"find|learn|start|adapt|fight|combat|address|tackle|mitigate)"
)
# a number that is a quantity rather than a year: money, a percentage, a unit, or not four digits
_QUANTITY = (r"(?:\$\s?\d[\d,.]*|\d[\d,.]*\s?(?:%|percent|km|m|cm|kg|g|mph|hours?|minutes?|seconds?|days?|"
             r"years?|cents?|dollars?|meters?|miles?|liters?)\b|\b(?!1\d{3}\b|20\d\d\b)\d+(?:[.,]\d+)?\b)")
# a question that asks for a quantity ("what was lacking" asks for none)
_ASKS_QUANTITY = (r"(?:how (?:much|many|long|far|fast|old)|find|calculate|what (?:is|was|are|were|will be|would be) "
                  r"(?:the|its|their|his|her|my|your) (?:\w+ )?(?:total|sum|average|mean|cost|price|difference|ratio|"
                  r"speed|distance|area|volume|probability|value|result|percentage|rate|number|amount|dimensions|"
                  r"length|width|height|age)\b)")
# the words before a request to write something, when they do not ask for advice instead ("ways to make my plan ...")
_NO_ADVICE_ASKED = r"(?:(?!\bhow to\b|\bways to\b|\btips\b)[^\n])*?"
# a list as a form of answer: "bullet points", "a numbered list", "numbering"
_LIST_FORM = (r"(?:(?:bullet(?:ed|ted)?|bullet[- ]point(?:ed)?|numbered|ordered) (?:lists?|points?|items?)|"
              r"bullet[- ]?points?|bullets?|lists?|numbering|enumerations?|list (?:form|format(?:ting)?|style))")
# a sentence's start: a line's, or after ".?!" where the sentence goes on in lower case ("...better? no lists")
_SENTENCE_START = r"(?:^|(?<=[.?!] ))"
# where a sentence states the answer's form: at its start, after a comma or a conjunction, or after a verb that
# asks for the answer ("Answer without bullets."); "How do I make slides without bullet points?" asks about slides
_FORM_STATED = (rf"(?:{_SENTENCE_START}|[,;:(\-–—]\s*|\b(?:and|but|please|just|so|ideally|preferably)\s+|"
                rf"{_SENTENCE_START}(?!(?:how|what|which|why|who|where|when|is|are|can|could|do|does|did|should|"
                r"would|will)\b)[^\n]{0,80}?\b(?:answer|respond|reply|explain|describe|discuss|summari[sz]e|write|"
                r"tell|give|present|format|keep|put|lay out)\b[^.?!\n]{0,80}?\s)")
# a refusal of a list: "no", "use no", "without any", "not as a", "don't use", "rather than"
_REFUSE = (r"(?:no|(?:with|use) no|not(?: as| in| into)?(?: an?)?|without(?: using)?(?: any| an?)?|"
           r"avoid(?: using)?(?: any| an?)?|(?:rather than|instead of)(?: as| in| using)?(?: an?)?|"
           r"(?:don[’']?t|do not) (?:use|want|need|give me|write|make (?:it|this)(?: into| as| in)?)(?: any| an?)?)")
# the list word ends its phrase: "no list of requirements" and "without list comprehensions" speak of a thing
_FORM_ENDS = (r"(?=\s*(?:[.,;:!?)–—]|-\s|$)|\s+(?:please|thanks|or|and|nor|but|just|only|instead|at all|"
              r"whatsoever|if possible|rather than|not)\b)")
# a length for the whole answer ("in one paragraph", "keep it to 3 sentences"); "explain each in two sentences"
# sets one for every point of a list
_IN_PARAGRAPHS = (rf"(?:(?:in|as|to) (?:one|a single|a|two|three|1|2|3|a few|a couple of) |{_SENTENCE_START}(?:one|"
                  r"a single) )(?:(?:short|brief|single|flowing|coherent|continuous|connected|concise) )?paragraphs?\b")
_IN_SENTENCES = (r"(?:in|(?:keep|limit) (?:it|this|the answer|your answer) to) (?:just |only )?(?:a few|"
                 r"a couple(?: of)?|two or three|2-3|2 or 3|two|three|2|3) (?:(?:short|brief|simple|full) )?"
                 r"sentences\b")
_NOT_EACH = r"(?! each| apiece| per (?:point|item|tip|idea|step))"
_EVALUATIVE = re.compile(r"\b(?:worth|good|bad|better|worse|ethical|moral|should|important|necessary|possible|"
                         r"safe|healthy|fair|justified|effective|beneficial|harmful|a place|the future|the best)\b",
                         re.IGNORECASE)


# measured superlatives, as the English guard's ("the longest river"), in Spanish, French, Portuguese, Italian, German
_MEASURES_ES = (r"(?:alt[oa]|grande|larg[oa]|pequeñ[oa]|profund[oa]|antigu[oa]|poblad[oa]|caliente|fr[ií][oa]|"
                r"r[aá]pid[oa]|le[jy]an[oa]|pesad[oa]|frecuente)")
_MEASURES_FR = (r"(?:grande?|longu?e?|haute?|petite?|profonde?|vieux|vieille|ancienne?|peuplée?|rapide|chaude?|"
                r"froide?|lointaine?|lourde?)")
_MEASURES_PT = r"(?:alt[oa]|grande|long[oa]|pequen[oa]|profund[oa]|antig[oa]|populos[oa]|rápid[oa]|pesad[oa])"
_MEASURES_IT = r"(?:alt[oa]|grande|lung[oa]|piccol[oa]|profond[oa]|antic[oa]|popolos[oa]|veloce|pesante)"
_MEASURES_DE = (r"(?:größte|längste|höchste|kleinste|älteste|tiefste|schnellste|schwerste|bevölkerungsreichste|"
                r"heißeste|kälteste)[nrsm]?")
# a way to do something ("le moyen le plus rapide d'apprendre", "the fastest way to"): advice, not a fact
_WAYS = r"(?:forma|manera|modo|m[eé]todo|moyen|façon|maneira|jeito|weg|art|methode|camino|chemin|caminho)"
_NOT_A_WAY = rf"(?!{_WAYS}\b)"
# not a quality asked about ("¿Qué es bueno para dormir?", "Was ist wichtig ...?"), a list of what has it
_NOT_EVALUATIVE = (r"(?!(?:bueno|buena|mejor|lo|importante|útil|bon|bonne|meilleur|important|bom|boa|melhor|"
                   r"buono|buona|meglio|gut|besser|wichtig|das beste|die beste|der beste)\b)")

# The guards' requests in Spanish, French, Portuguese, Italian and German, whose list questions the classifier
# reads ("¿Cuáles son ...? Escribe un poema." went to SoT on the question before it): a verb of writing, making, doing
# in the imperative ("Écrivez", "Escribe", "Schreib mir"), or an infinitive after "can you" ("¿Puedes escribir ...?"),
# where a request's verb stands (``_VERB_AT_INTL``). Not its stem, which reads English too ("redacting",
# "Scrivener", "demonstrate"), nor an infinitive elsewhere ("los beneficios de escribir cartas" asks about writing)
_WRITE_INTL = (r"(?:écri(?:s|vez)(?:-(?:moi|nous))?|rédige[sz]?(?:-(?:moi|nous))?|escrib[aei]|escribid|escriban|"
               r"escríb[ae]me|redact[ae]|redactad|redacten|redáct[ae]me|escrev[ae](?:-me)?|escrevam|redij[ae]|redige|"
               r"scriv[ia]|scrivete|scrivimi|componi|schreib(?:e|t|en sie)?|verfass(?:e|t|en sie)?)")
_MAKE_INTL = (rf"(?:{_WRITE_INTL}|crée[sz]?(?:-moi)?|créez|implémente[sz]?|génère[sz]?|générez|développe[sz]?|crea|"
              r"cread|creen|créame|creami|crie|criem|implementa|implemente|implementad|implementen|genera|genere|"
              r"generad|generen|gere|desarrolla|desarrolle|desenvolva|sviluppa|sviluppate|erstelle?|erstellt|"
              r"implementiere|programmiere|entwickle)")
# make or do, right before the code it makes ("Haz un programa", "Fammi uno script"; not "Haz memoria", "Faz um ano",
# "Mach 5", "Fai il punto sul programma")
_DOES_INTL = (r"(?:haz(?:me)?|fa(?:is|ites)(?:-(?:moi|nous))?|fa(?:ça|z)(?:-me)?|fai|fammi|"
              r"mach(?:e|t)?(?:\s+(?:bitte|mal))?(?:\s+(?:mir|uns))?)\s+"
              r"(?:un|una|uno|unos|unas|une|el|la|los|las|le|les|des|um|uma|uns|umas|o|a|il|lo|ein|eine|einen|"
              r"l['’]\s*)\s*(?:(?:bout|trozo|pezzo|pedaço|stück)\s+(?:de|di|von)\s+|\w+\s+)?(?:\w+-)?")
_WRITE_INF_INTL = r"(?:écrire|rédiger|escribir|redactar|escrever|redigir|scrivere|scriver(?=mi|ci)|comporre)"
_MAKE_INF_INTL = (rf"(?:{_WRITE_INF_INTL}|créer|implémenter|générer|développer|crear|implementar|generar|desarrollar|"
                  r"criar|gerar|desenvolver|creare|implementare|generare|sviluppare)")
# "can you" ("Pourriez-vous écrire ...", "¿Me puedes escribir ...?", "Você pode escrever ...")
_MODAL_INTL = (r"(?:(?:me|nos|mi|ci|nous)\s+|m['’]\s*)?(?:puedes|podrías|puede|podría|pueden|podéis|peux-tu|"
               r"pouvez-vous|pourrais-tu|pourriez-vous|(?:você\s+)?(?:pode|podes|poderia)|puoi|potresti|può|potete)\s+"
               r"(?:(?:me|nos|mi|ci|nous|moi)\s+|m['’]\s*)?")
# where a request's verb stands: a sentence's start, after "¿", a polite word or a clause and its comma ("Por favor,
# escribe", "Para mi madre, escribe"), not after a subject ("Mi hija escribe cuentos", "Je rédige un essai")
_VERB_AT_INTL = (r"^(?:[¿¡]\s*)?(?:(?:(?:por favor|s['’]il (?:te|vous) pla[iî]t|per favore|bitte|ahora|maintenant|"
                 r"ora|jetzt|y|et|e|und)\b[\s,]*){1,2}|[^\n,;:?!.]{0,60}[,;:]\s*)?")
# (an infinitive may take its pronoun: "escribirme", "scrivermi")
_WRITES_INTL = rf"{_VERB_AT_INTL}(?:{_WRITE_INTL}|{_MODAL_INTL}{_WRITE_INF_INTL}(?:me|nos|mi|ci)?)\b"
_MAKES_INTL = rf"{_VERB_AT_INTL}(?:{_MAKE_INTL}|{_MODAL_INTL}{_MAKE_INF_INTL}(?:me|nos|mi|ci)?)\b"
_CODE_INTL = (r"(?:programme|programa|programma|programm|script|skript|código|codice|code|fonction|función|funcion|"
              r"função|funzione|funktion|requête|consulta|algorithme|algoritmo|algorithmus)")
_WRITING_INTL = (r"(?:lettre|courriel|e-?mail|histoire|nouvelle|conte|poème|essai|dissertation|discours|chanson|"
                 r"carta|correo|historia|cuento|relato|poema|ensayo|discurso|canción|cancion|história|conto|ensaio|"
                 r"canção|redação|lettera|storia|racconto|poesia|saggio|tema|discorso|canzone|brief|geschichte|"
                 r"gedicht|aufsatz|essay|rede|lied)")
# a proof: "démontrer que", "demostrar el teorema", "Beweise, dass" (not "demostrar el amor", "demonstrate a mindset")
_THEOREM_INTL = (r"(?:teorema|théorème|lema|lemme|lemma|fórmula|formule|formula|identidad|identité|identità|"
                 r"desigualdad|inégalité|disuguaglianza|conjetura|conjecture|congettura|proposición|proposition)")
_PROOF_INTL = (r"\b(?:démontr|demostr|demuestr|dimostr)\w*\s*,?\s*(?:que|che)\b|"
               r"\bdemonstr(?:ar|e|em)\s+que\b|"
               rf"\b(?:démontr|demostr|demuestr|dimostr|demonstr)\w*\s+(?:el|le|la|o|a|il|lo|l['’])\s*"
               rf"{_THEOREM_INTL}\b|"
               r"\b(?:prouve[rz]?|probar|pruebe|provar|provare|beweisen?(?:\s+sie)?|beweise|beweist|"
               r"zeigen\s+sie(?:\s+bitte)?|zeige)\s*,?\s*(?:que|che|dass)\b")
_SHORT_INTL = (r"\b(?:en une (?:phrase|ligne)|en un (?:seul )?mot|en quelques mots|oui ou non|"
               r"en una (?:sola )?(?:frase|oración|palabra|línea)|en pocas palabras|sí o no|"
               r"em uma (?:frase|palavra|linha)|numa (?:frase|palavra|linha)|em poucas palavras|sim ou não|"
               r"in una (?:frase|parola|riga)|in poche parole|sì o no|"
               r"in einem (?:satz|wort)|in wenigen worten|ja oder nein)\b")


@dataclass(frozen=True)
class _Rule:
    mode: Mode
    confidence: float
    says: str
    pattern: re.Pattern[str]
    names_a_topic: bool  # its words may name what advice is asked about ("strategies for solving sudoku")

    def find(self, text: str) -> re.Match[str] | None:
        position = 0
        while match := self.pattern.search(text, position):
            sentence = text.rfind("\n", 0, match.start()) + 1
            if not (self.names_a_topic and _ADVICE_ABOUT.search(text, sentence, match.start())):
                return match
            position = text.find("\n", match.end()) + 1 or len(text)  # advice before it is before the rest too
        return None


def _rule(mode: Mode, confidence: float, says: str, *patterns: str, names_a_topic: bool = False) -> _Rule:
    # MULTILINE: the question arrives one sentence per line, so "^" anchors at the start of any sentence
    flags = re.IGNORECASE | re.MULTILINE
    compiled = re.compile("|".join(f"(?:{p})" for p in patterns), flags)
    return _Rule(mode, confidence, says, compiled, names_a_topic)


# facts in the plural, and text to give back as written, of one named thing: "the opening hours of the Louvre",
# "the lyrics to Yesterday" (not "the lyrics of X actually about", "office hours etiquette", "words to describe ...")
_FACTS_ABOUT = (r"(?:(?:(?:gps )?coordinates|latitude and longitude|(?:opening|business|visiting) (?:hours|times)|"
                r"lyrics|chords|chord progression) (?:of|to|for|at)|"
                r"words (?:to|of)(?= the | (?-i:[A-Z]))(?![^\n]* on \w)) "
                # not things in the plural or in general ("the chords for beginner guitarists", "the opening hours
                # of most museums"; a title in capitals is one thing: "Common People")
                r"(?!(?:a|an|some|describe|say|use|live by|learn)\b|(?:the )?(?-i:(?:most|main|major|key|top|largest|"
                r"biggest|common|popular|famous|beginners?|songs|various|different|typical|basic|easy|simple|best|good|"
                r"all|every|many|several|these|those)\b))"
                # nor a question about them ("the lyrics of Imagine really about", "the words ... actually saying")
                r"(?![^\n]*\b(?:about|mean|meaning|actually|saying|known|that|which|like|why|how|tips|advice|wisdom|"
                r"encouragement)\b)[^\n,;]{1,60}$")


# the kinds of puzzle and test that a question may give to solve, or ask advice about
_PUZZLES, _MULTIPLE_CHOICE = r"(?:puzzle|brain ?teaser|riddle|sudoku)", r"multiple[- ]choice"

# words before a kind of puzzle, test or joke that ask for advice about such things ("tips for solving sudoku",
# "how can I get better at riddles?"), not for one to be solved or told
_ADVICE_ABOUT = re.compile(r"\b(?:tips|tricks|strateg(?:y|ies)|techniques|methods|ways|advice|habits|approaches|"
                           r"(?:best )?practices|mistakes|benefits|advantages|disadvantages|drawbacks|pros|reasons|"
                           r"types|kinds|elements|skills|makes|better at|good at|how (?:can|could|do|should|would|to)"
                           r"\b[^\n]{0,80}?\b(?:get better|improve|become (?:a )?better|practi[cs]e|prepare|study|"
                           r"teach|learn))\b", re.IGNORECASE)


#: words that say nothing of a topic: a message of these alone asks about the answer before it ("why?", "and then?")
_FOLLOW_UP_WORDS = (r"(?:what|why|how|when|where|who|which|and|but|so|then|now|really|no|nope|yes|yep|yeah|ok|okay|"
                    r"sure|more|else|again|about|it|that|this|them|those|these|one|ones|the|a|an|is|are|was|were|do|"
                    r"does|did|you|me|i|mean|please|go|on|continue|tell|exactly|seriously|huh|hmm|wait|same|for|"
                    r"example|examples|instance|up|come|not|though|source|sources|proof)")
# the follow-up patterns' parts: an opening word that carries on ("ok, ..."), words in a phrase (not past a colon or
# a question mark: "Put it simply: what are ...?" is a question of its own) and the message's end
_THEN = r"(?:(?:and|but|so|ok|okay|now)\W+)?"
_WORDS = r"(?:[\s,-]+[\w'’]+)"
_END = r"[^\w]*\Z"
# what a follow-up points back to ("what about the other two options?") and a "like those" that is no title ("like
# The Last of Us")
_BACK = (r"(?:others?|rest|first|second|third|fourth|fifth|last|next|previous|former|latter|\d+(?:st|nd|rd|th)|one|"
         r"ones|options?|ideas?|pros|cons|downsides?|upsides?|risks?|costs?|alternatives?|two|three|both)")
_LIKE_THOSE = (rf"like (?:(?:those|these|that|this)(?: ones?)?|the (?:last|first|previous) ones?|the ones (?:you|above|"
               rf"before)\b{_WORDS}{{0,3}})(?: please)?{_END}")
# a greeting or a thanks on a line of its own beside the question ("Hi! What are ...? Thanks!") is not what is asked
_GREETING = (r"(?:(?:hi|hello|hey)(?: there| all| everyone)?|good (?:morning|afternoon|evening|day)|thanks|thank "
             r"you|thanks (?:a lot|so much|in advance)|thank you (?:so much|very much|in advance))")
_SALUTATION = re.compile(rf"{_GREETING}[^\w]*", re.IGNORECASE)
# ... and one that opens the question's own line ("thanks! what else?", "Hi, what are good books?")
# (read on a line that ends in a question mark; possessive: its lookahead to the line's end was cubic, review 303)
_SALUTATION_OPENING = re.compile(rf"\A(?:(?:ok|okay|great|awesome|cool|perfect|nice)\W+)?(?:{_GREETING}|thx|thank u|"
                                 rf"ty)\s*+[!.,;:—–-]++\s*+", re.IGNORECASE)


#: kinds of request whose answer is one connected piece, tried in order
GUARDS = [
    _rule("sequential", 0.85, "asks the model to play a role",
          r"\bpretend (?:you are|you're|that you)\b", r"(?:^|\byou (?:to )?)pretend to be\b", r"\bimagine (?:you are|you're|yourself|that you are)\b",
          r"\bact (?:as|like) (?:a|an|the|my|if)\b", r"\brole[- ]?play", r"\bplay the (?:role|part) of\b",
          r"\bin the (?:voice|role|persona|shoes) of\b", r"\b(?:speak|respond|answer|reply) as (?:a|an|the|if)\b",
          r"\bif you were (?:a|an|the)\b", r"^(?:you are|you're) (?:a|an|the|my)\b",
          r"\bas an? [^,.?!]{1,50},\s*(?:how|what|why|describe|tell|explain)[^.?!]*\b(?:would you|do you|your|you "
          r"(?:feel|say|explain|respond|convince|describe|handle|approach|react|justify))\b"),
    _rule("sequential", 0.9, "asks for code",
          rf"\b(?:write|implement|create|build|develop|generate|give me|show me)\b[^.?!\n]{{0,60}}?\b"
          rf"{_CODE_ARTIFACTS}\b",
          r"\bimplement\b[^.?!]{0,40}\b(?:sort|search|tree|linked list|queue|stack|cache|heap|graph|"
          r"hash ?(?:map|table)|algorithm|parser|interface)\b",
          rf"\b(?:write|implement|code|program|how (?:do|can|would|should) (?:i|you|we)|how to)\b[^?!]{{0,80}}"
          rf"\b(?:in|using|with) {_LANGUAGES}(?![\w+#])",
          r"\b(?:debug|fix|refactor|optimi[sz]e|review|explain)\b[^.?!]{0,30}\b(?:this|my|the following) "
          r"(?:code|bug|function|program|script|query|snippet|loop|regex|class)\b",
          # an exception's CamelCase name (KeyError, NullPointerException), a traceback, or code itself
          r"(?-i:\b[A-Z]\w*(?:Error|Exception)\b)", r"\btraceback\b", r"```", r"\bdef \w+\(", r"#include\b",
          r"console\.log", r"(?-i:\bSELECT\b[^?]*\bFROM\b)", r"\bprint\s*\(", r"\bfor \w+ in range\b",
          r"\b(?:var|let|const|int) \w+\s*=", r"\w\(\)\s*[;{]", r"\b(?:if|while|for)\s*\([^)]*\)\s*\{",
          r"\w\.\w+\([^)]*\)", r"=>", r"\w\[\w*\]\s*[=;)]",
          # fixing, explaining or reviewing given code, whatever the code talks about
          # a programming exercise: "Given an array of ..., return ...", "... in Java."
          r"^given (?:an?|two|the) (?:\w+ )?(?:array|list|string|integer|matrix|tree|linked list|graph|dictionary|"
          r"map|set|number)s?\b[^\n]*\b(?:return|find|write|determine|compute|print|output)\b",
          rf"^(?:given|write|implement|return|find|print|create|build|code|make|generate)\b[^\n]*\b(?:in|using) "
          rf"{_LANGUAGES}(?![\w+#])",
          rf"^(?:write|create|build|generate|implement|make)\b[^\n]*\b{_LANGUAGES}(?![\w+#])",
          # something of mine or this that misbehaves: "my loop skips ...", "why does this regex not match ..."
          r"\b(?:my|this|the) (?:code|loop|function|script|query|regex|program|app|test|build|container|method|"
          r"class|component|list|array|dataframe)\b(?! reviews?| quality| style| base)[^?]*\b(?:error|fails?|"
          r"crash(?:es)?|skips?|returns?|"
          r"throws?|doesn't|does not|won't|not match|never|wrong|rejected|exits?|re-renders?)\b",
          r"\bwhat(?:'s| is) wrong with (?:this|my|the following|the)\b", r"\b(?:find|spot|fix) the (?:bug|error)",
          r"\b(?:segmentation fault|segfault|stack ?trace|compiler error|syntax error|index out of range|"
          r"undefined is not|null pointer|compile error)\b",
          rf"\b(?:debug|fix|refactor|optimi[sz]e|review|explain|what does)\b[^.?!]{{0,30}}\b(?:this|my|the following)"
          rf"(?: {_LANGUAGES})? (?:code|bug|function|program|script|query|snippet|loop|regex|class|line|method)\b",
          rf"\bthis (?:line|piece|snippet|bit) of (?:code|{_LANGUAGES})\b", r"\bone-liner\b",
          rf"\b(?:write|implement|create|generate|give me|show me)\b[^.?!\n]{{0,100}}?\b(?:function|program|script|"
          rf"class|method|query|regex|component|unit tests?|code)\b(?! review)",
          # "I need a MySQL query that ...", "we want a regex for ..." (not "I'm looking for CSS class naming tips")
          rf"^(?:i|we)(?:'m| am| are)? (?:need|want|looking for) (?:an?|some) (?:quick |simple |small |short )?(?:(?:"
          rf"{_LANGUAGES}|mysql|postgres(?:ql)?|excel|google sheets|vba) (?:query|script|function|program|code|snippet|"
          r"class|regex|command|formula|macro)|regex|regular expression|one-liner)\b(?=\s*(?:that|to|which|:|$|[.!]))"
          r"(?![^\n]*\b(?:what|which|how|why|should)\b[^\n]*\?)",  # (not "...: what should I check first?")
          rf"{_MAKES_INTL}[^.?!\n]{{0,60}}?\b{_CODE_INTL}s?\b", rf"{_VERB_AT_INTL}{_DOES_INTL}{_CODE_INTL}s?\b",
          rf"{_MAKES_INTL}[^.?!\n]{{0,80}}\b(?:en|in|em|con|avec|mit|usando|utilisant) {_LANGUAGES}"
          r"(?![\w+#])"),
    _rule("sequential", 0.9, "asks for a proof or derivation",
          r"\b(?:prove|proof|show that|demonstrate that|derive|derivation)\b", _PROOF_INTL),
    _rule("sequential", 0.9, "asks for a computation",
          r"\d\s*[+*×÷^=]\s*\(?-?\d", r"\d\s+[-/]\s+\d", r"\d\s*(?:times|plus|minus|divided by|multiplied by)\s*\d",
          r"\b[a-z]\s*\^\s*\d", r"\d\s*(?:%|percent) of \$?\d", r"\b[a-z]\s*\(\s*[a-z0-9]\s*\)\s*=",
          r"\d[a-z]\s*[-+=]", r"\b[a-z]\s*=\s*-?\d",
          r"\b(?:calculate|compute|simplify|factori[sz]e|differentiate)\b",
          r"\bsolve (?:for|the (?:equation|system|inequality|integral)|\S*\s*[=+])",
          r"\b(?:derivative|integral|equation|inequality|polynomial|matrix|determinant|logarithm|factorial|"
          r"eigen(?:value|vector|space|decomposition|function)s?|"
          r"probability (?:of|that)|expected value|greatest common|least common|gcd|lcm|prime factor|hypotenuse)\b",
          # the numbers a number has: "the factors of 360" (not "the factors of the 2008 crisis", "the main
          # factors of 2008"; a year-like number only where its factors are all that is asked), "prime numbers
          # between 100 and 150"
          r"\b(?:(?:prime )?factors|divisors|multiples) of (?:the (?:number|integer) \d|(?!(?:1[5-9]|20)\d\d\b)\d)"
          r"[\d,]*(?<!,)(?=\s*(?:$|[?.,!;:)]|(?:and|or|under|below|less than|up to|over|above|greater than|between|"
          r"that|which|in)\b))",
          r"^(?:list|find|what are) (?:all )?(?:the )?(?:(?:prime )?factors|divisors|multiples) of \d{4}\s*[?.!]?$",
          r"\b(?:primes|prime numbers?) (?:between|below|under|less than|smaller than|up to|from|above|over|"
          r"greater than) \d+(?!\d*\s*(?:bce?|ad|ce)\b)",
          r"\b(?:first|list|name|give me|the) \d+ (?:prime numbers|primes)\b",
          # the chances asked for, of a game of chance ("What are the odds of rolling two sixes?"; not "myths about
          # the odds of winning the lottery", "How can I improve my chances of being dealt ...")
          r"^(?:what (?:are|is|were|was) (?:the |my |your |our )?|how (?:likely|probable) is (?:it )?|"
          r"calculate (?:the )?|find (?:the )?|compute (?:the )?)?(?:odds|chances?|probability|likelihood) "
          r"(?:of|that)\b[^?\n]{0,40}?\b(?:(?:roll(?:ing)?|throw(?:ing)?) (?:a |an |two |three |\d+ )?(?:\d+|sixe?s|"
          r"doubles|dice|die|snake eyes)|(?:flip(?:ping)?|toss(?:ing)?) (?:a |two |\d+ )?(?:coins?|heads|tails)|"
          r"getting (?:\d+ |two |three )?(?:heads|tails)(?! of)|(?:drawing|(?:being |getting )?dealt) "
          r"(?:a |an |two |\d+ )?(?:pocket |\w+ )?(?:aces?|kings?|queens?|royal flush|full house|flush|pair|spades?|"
          r"hearts?|diamonds?|clubs?)|(?:winning|hitting) (?:the )?(?:lottery|powerball|mega millions|euromillions|"
          r"jackpot)|(?:a |an )?(?:royal flush|full house|straight flush|yahtzee))\b",
          r"(?:\A|(?<=\?))(?>[^?]*?(?=\bhow many\b))(?P<quote_ways>(?>how many\b[^?]*?\b(?:ways|combinations|"
          r"permutations)\b))[^?]*\d",
          r"\b(?:area|volume|perimeter|circumference|surface area|diagonal) of an? \w+[^?]*\d",
          r"\b(?:how (?:many|much|long|far|fast)|what is the (?:total|average|sum))\b[^?]*\d[^?]*\d"),
    _rule("sequential", 0.9, "asks for a computation",
          # each part of the text between question marks read once, from its first digit or pair of digits: the same
          # matches as from any later one, and a pasted table is not read once per digit (a rule of its own, after the
          # others, so that a match of theirs is the one quoted)
          r"(?:\A|(?<=\?))[^?\d]*(?P<quote_shape>\d[^?]*?\b(?:triangle|circle|rectangle|square|sphere|cube|cylinder|"
          r"cone|polygon)\b)",
          r"(?:\A|(?<=\?))(?>[^?]*?(?=\d[^.?\d]*\d))(?P<quote_sum>\d[^.?\d]*\d[^?]*?\b(?:how (?:many|much|long|"
          r"far|fast)|what is the (?:total|average|sum|difference)|find)\b)"),
    _rule("sequential", 0.85, "a word problem: quantities given, a quantity asked",
          # the first two quantities, each kept once found (atomic), so that a pasted table is read once, not once
          # for every pair of its numbers
          rf"(?s:\A(?>.*?(?={_QUANTITY}))(?P<quote_problem>(?>{_QUANTITY})(?>.*?{_QUANTITY}).*^{_ASKS_QUANTITY}))",
          rf"(?s:^{_ASKS_QUANTITY}(?>.*?{_QUANTITY})(?>.*?{_QUANTITY}))"),
    _rule("sequential", 0.85, "needs an estimate or reasoning built step by step",
          r"\bstep[- ]by[- ]step\b", r"\b(?:explain|show|walk (?:me|us) through|take (?:me|us|the reader) through) "
          r"(?:your|the|my) (?:reasoning|work|thinking|calculation|logic|estimate)",
          r"\breason (?:it )?(?:out|through)\b", r"\bthink (?:it )?through\b", r"\bestimate (?:how|the|what)\b",
          r"\bfermi\b", r"\bhow many\b"),
    _rule("sequential", 0.85, "asks for a piece of writing",
          # a sentence that asks for the writing; "how can I write better emails?" asks for advice instead
          rf"^(?!(?:how|what|which|why|any)\b){_NO_ADVICE_ASKED}\b(?:write|compose|"
          rf"draft|pen|craft|author)\b(?:\s+\S+){{0,6}}?\s+{_WRITING_ARTIFACTS}s?\b",
          r"^(?!(?:how|what|which|why)\b)[^\n]*?\b(?:create|prepare|give me|tell me|come up with|make up)\b"
          r"(?:\s+\S+){0,4}?\s+(?:(?:short )?story|poem|joke|riddle|song|slogan|speech|toast|limerick|haiku|"
          r"tagline|jingle)s?\b",
          rf"{_WRITES_INTL}(?:\s+\S+){{0,4}}?\s+(?:\w+['’])?{_WRITING_INTL}s?\b",  # (an elided "un'email")
          # a plan, schedule or itinerary is one piece whose parts fit together ("ways to make my routine less
          # rushed" asks for advice on one instead)
          rf"^(?!(?:how|what|which|why)\b){_NO_ADVICE_ASKED}\b(?:write|create|make|"
          r"prepare|design|draft|plan|draw up|put together|give me|build)\b"
          r"(?:\s+(?!(?:tips|ways|ideas|advice)\b)\S+){0,6}?\s+(?:(?:lesson|business|marketing|meal|study|workout|"
          r"training|project|travel|diet|content|savings|action|event|wedding|course) plan|schedule|itinerary|"
          r"curriculum|syllabus|agenda|timetable|routine)s?\b(?! (?:less|more|better|easier)\b)"),
    _rule("sequential", 0.85, "asks to transform a given text",
          # "how do I say no to my boss?" asks for advice; "how do I say thank you in Korean?" for a translation
          r"\btranslate\b", rf"\bhow (?:do|would|can) (?:you|i) say\b[^?\n]{{0,60}}\bin {_HUMAN_LANGUAGES}\b",
          r"\b(?:summari[sz]e|paraphrase|rephrase|rewrite|reword|proofread|correct|edit|shorten|"
          r"simplify|classify|turn|make|convert)\b[^.?!]{0,30}\b(?:this|these|the following|following|below|my "
          r"(?:essay|email|letter|text|sentence|paragraph|notes))\b"),
    _rule("sequential", 0.9, "asks for the solution of a famous open problem",
          r"\b(?:riemann hypothesis|collatz|goldbach|twin prime conjecture|p (?:vs\.?|versus|=|!=) ?np|navier[- ]stokes "
          r"(?:existence|problem)|hodge conjecture|birch and swinnerton|yang[- ]mills existence|abc conjecture)\b",
          r"\b(?:solution|answer|solve|proof|prove)\b[^?]{0,40}\b(?:conjecture|hypothesis|unsolved problem|open "
          r"problem|millennium prize problem)\b"),
    _rule("sequential", 0.85, "a puzzle or constraint problem",
          rf"\b{_PUZZLES}\b(?! (?:games?|apps?|books?|boxes|makers?|hunts?|rooms?)\b)", names_a_topic=True),
    _rule("sequential", 0.85, "a puzzle or constraint problem",  # one given to solve, whatever advice came before
          rf"\b(?:this|these|the following|following) {_PUZZLES}s?\b", rf"\b{_PUZZLES}\s*:",
          r"\b(?:knights? and knaves|always (?:lies|tells the truth)|odd one out)\b",
          r"\b(?:sits?|seated|sitting|seats?)\b[^?]*\b(?:next to|left of|right of|opposite|either end|middle|"
          r"between|round table)\b",
          r"\b(?:is|are) (?:older|younger|taller|shorter|faster|slower|heavier|lighter) than\b",
          r"\ball \w+ are \w+[^?]*\bsome\b|\bsome \w+ are \w+[^?]*\ball\b",
          r"\b(?:labels?|labelled|labeled)\b[^?]*\b(?:wrong(?:ly)?|incorrect(?:ly)?)\b",
          r"\bin a row\b[^?]*\b(?:left|right|next to|between)\b",
          r"\b(?:what|which (?:number|letter|word)) comes next\b", r"\bsequence\b[^?]*\d",
          r"\b(?:cross|crossing) (?:a|the) (?:river|bridge)\b[^?]*\b(?:boat|torch|only|at (?:a|one) time)\b",
          r"\bwho (?:owns|sits|lives|drinks|keeps) (?:which|what|the)\b"),
    _rule("sequential", 0.9, "a multiple-choice question", rf"\b{_MULTIPLE_CHOICE}\b", names_a_topic=True),
    _rule("sequential", 0.9, "a multiple-choice question",
          rf"\b(?:this|the following|following) {_MULTIPLE_CHOICE}\b", rf"\b{_MULTIPLE_CHOICE}(?: question)?\s*:",
          r"\bwhich of (?:the following|these|the options|the choices|those)\b",
          r"\b(?:options|choices|answers?):", r"\btrue or false\b",
          r"\b(?:answer|reply|respond) (?:only )?with (?:the|a|only the|just the) (?:letter|number|option)\b",
          r"(?:^|\s)\(?[Aa][).:]\s+\S[^\n]*?\s\(?[Bb][).:]\s+\S",
          r"(?:^|\s)\(?1\)\s+\S[^\n]*?\s\(?2\)\s+\S",
          r"\bchoose (?:the|one|between)\b[^?]*\b(?:correct|best|right)\b"),
    _rule("sequential", 0.85, "a task on a given input",
          r"^(?:you (?:are|will be) given|your task is|in this task|given (?:a|an|the|two) (?:sentence|paragraph|"
          r"text|passage|list|question|review|tweet|article|document|table))\b", r"^(?:input|output|sentence|text):"),
    _rule("sequential", 0.8, "asks for a joke or riddle", r"\b(?:joke|riddle|pun|tongue twister)s?\b",
          names_a_topic=True),
    _rule("sequential", 0.8, "asks for a joke or riddle", r"\b(?:this|these|the following) (?:joke|pun)s?\b"),
    _rule("sequential", 0.85, "asks for prose, not a list",
          # the user states the answer's form ("no bullet points", "in one paragraph"), whatever its topic
          rf"{_FORM_STATED}(?:i (?:really )?)?{_REFUSE} {_LIST_FORM}{_FORM_ENDS}",
          rf"{_FORM_STATED}(?:i )?(?:don[’']?t|do not|without) (?:list|listing|enumerat(?:e|ing)|itemi[sz](?:e|ing))"
          rf"(?: them| it| things| the points)?{_FORM_ENDS}",
          rf"{_FORM_STATED}(?:(?:in|as) (?:(?:plain|flowing|continuous|running|connected) )?prose|"
          rf"in (?:paragraph|essay|narrative|prose) (?:form|format|style)|in (?:full|complete) sentences){_FORM_ENDS}",
          rf"{_FORM_STATED}(?<!each ){_IN_PARAGRAPHS}{_NOT_EACH}",
          rf"{_FORM_STATED}(?<!each ){_IN_SENTENCES}{_NOT_EACH}",
          # or ends the question with "in" one ("What helps me sleep in one paragraph?"); "How do I summarise a
          # book in one paragraph?", "Why ... in one paragraph?" and "... way to cut it to one paragraph?" ask about
          # such texts
          rf"{_SENTENCE_START}(?!(?:why|how (?:do|can|could|should|would|might) (?:i|we|you|one)|how to)\b)"
          rf"[^\n.?!]*?\s(?<!each\s)(?=in )(?:{_IN_PARAGRAPHS}|{_IN_SENTENCES})(?:,? please)?\?"),
    _rule("sequential", 0.7, "asks for a single fact or a short answer",
          r"\b(?:in one (?:word|sentence)|one-(?:word|sentence|line)|(?:answer|explain|describe|tell me) briefly|"
          r"briefly (?:explain|describe|answer|tell)|in a (?:word|sentence|nutshell)|"
          r"yes or no|true or false)\b",
          _SHORT_INTL,
          r"^(?:who|when|where) (?:is|was|were|did|invented|wrote|painted|discovered|founded)\b(?:\W+\w+){0,10}\W*$",
          r"^how (?:tall|old|far|high|deep|heavy|big|large|long ago) (?:is|was|are|were)\b(?:\W+\w+){0,8}\W*$",
          r"^what (?:year|date|day|time|century|decade|colou?r|language|currency)\b",
          r"^what (?:is|was) the (?:capital|population|symbol|chemical symbol|name|height|length|speed|weight|"
          r"boiling point|melting point|distance)\b", r"^what does \S+ stand for\b",
          # facts in the plural, and text to give back as written (lyrics, chords, the words to a song): one piece
          rf"^(?:what (?:are|were) |(?:give|show|send|tell) me |i need |find )?(?:the )?{_FACTS_ABOUT}",
          r"^what (?:are|were) (?:the )?[\w' ]{1,40}['’]s? (?:(?:gps )?coordinates|latitude and longitude|"
          r"(?:opening|business|visiting) (?:hours|times)|lyrics|chords)\W*$",
          rf"^(?:the )?(?:capital|population|currency|time zone) (?:city )?of\b(?![^\n]*\b{_LIST_NOUNS}\b)"
          r"(?: the)?(?:\W+\w+){1,2}\W*$",
          r"^(?:what|which|who) (?:is|was) the (?:largest|biggest|smallest|tallest|highest|longest|oldest|deepest|"
          r"fastest|hottest|coldest|first|last)\b(?:\W+\w+){0,8}\W*$",
          r"^which (?:planet|country|city|element|ocean|continent|river|mountain|animal|language|year|team|company|"
          r"person) (?:is|was|has|had)\b", r"^(?:define|what is the definition of|what does the word)\b"),
    # the same kinds of single fact in the languages the word classifier reads least ("¿Cuál es la capital de
    # Francia?" scored little but its bias, and went to SoT): capitals and the like, superlatives of a measure (not
    # "la forma más efectiva de ...", a way to do something), who, when, where, and "what is X?" of one or two words
    _rule("sequential", 0.7, "asks for a single fact or a short answer",
          r"^¿?(?:cu[aá]l|qu[eé]) (?:es|fue|era) (?:la|el) (?:capital|poblaci[oó]n|moneda|altura|fecha|f[oó]rmula|"
          r"s[ií]mbolo)\b", r"^(?:quel|quelle) (?:est|était) (?:la |le |l')(?:capitale|population|monnaie|hauteur|"
          r"date|formule|symbole)\b", r"^qual (?:é|è|e) (?:a|o|la|il) (?:capital|capitale|popula[çz]ão|popolazione|"
          r"moeda|moneta|altura|altezza|f[oó]rmula|s[ií]mbolo|simbolo)\b",
          r"^(?:was|wie) (?:ist|war|heißt) die (?:hauptstadt|einwohnerzahl|währung|höhe|formel)\b",
          rf"^¿?(?:cu[aá]l|qui[eé]n|qu[eé]) (?:es|fue) (?:el|la) {_NOT_A_WAY}\w+ (?:m[aá]s {_MEASURES_ES}|mayor|"
          r"menor)\b",
          rf"^(?:quel|quelle|qui) (?:est|était) (?:le |la |l'){_NOT_A_WAY}\w+ (?:le |la )?plus {_MEASURES_FR}\b",
          rf"^(?:qual|quem) (?:é|foi|è) (?:o|a|il|la|lo|l') ?{_NOT_A_WAY}\w+ (?:mais {_MEASURES_PT}|pi[uù] "
          rf"{_MEASURES_IT})\b",
          rf"^(?:welcher|welche|welches|wer|was) (?:ist|war) (?:der|die|das) {_MEASURES_DE}\b(?! {_WAYS}\b)",
          r"^¿?(?:qui[eé]n|cu[aá]ndo|d[oó]nde) (?:es|fue|era|est[aá]|naci[oó]|muri[oó]|escribi[oó]|invent[oó]|"
          r"pint[oó]|descubri[oó]|fund[oó]|queda)\b(?:\W+\w+){0,8}\W*$",
          r"^(?:qui|quand|où) (?:est|était|a (?:écrit|inventé|peint|découvert|fondé)|se trouve)\b"
          r"(?:\W+\w+){0,8}\W*$",
          r"^(?:quem|quando|onde|chi|dove) (?:é|foi|fica|est[aá]|nasceu|morreu|escreveu|inventou|pintou|descobriu|"
          r"è|era|fu|si trova|ha (?:scritto|inventato|dipinto|scoperto))\b(?:\W+\w+){0,8}\W*$",
          r"^(?:wer|wann|wo) (?:ist|war|hat|wurde|liegt|schrieb|erfand|malte|entdeckte)\b(?:\W+\w+){0,8}\W*$",
          rf"^¿?qu[eé] es (?:(?:el|la|un|una) )?{_NOT_EVALUATIVE}\w+(?: \w+)?\s*\?$",
          rf"^(?:qu'est-ce que|qu'est-ce qu'|c'est quoi) ?(?:(?:la|le|un|une) |l')?{_NOT_EVALUATIVE}\w+(?: \w+)?\s*\?$",
          rf"^(?:o que é|che cos'è|cos'è|che cosa è) (?:(?:o|a|um|uma|il|lo|la|un|una) |l')?{_NOT_EVALUATIVE}\w+"
          r"(?: \w+)?\s*\?$",
          rf"^was ist (?:(?:ein|eine|der|die|das) )?{_NOT_EVALUATIVE}\w+(?: \w+)?\s*\?$"),
    # the whole message: a greeting beside a question is dropped by normalise (probe 295: "Hi! What are some ways to
    # save money?" was small talk)
    _rule("sequential", 0.8, "small talk",
          rf"\A(?:{_GREETING}|good night)\b(?:[^\w?]+\w+){{0,6}}[^\w?]*\Z",
          r"\A(?:how are you|how is it going|what is up|who are you)(?: doing| today| there)*[^\w]*\Z",
          r"^what(?: is|'s) your name\b"),
    # a message that only makes sense after an answer: the router sees no conversation (probe 295: "what?", "and
    # then?", "what about the third option?", "make it funnier" went to SoT at 0.66-0.98)
    _rule("sequential", 0.8, "a follow-up that needs the conversation",
          rf"\A(?:{_FOLLOW_UP_WORDS}\b[^\w]*)+\Z",
          # short, and pointing back: "what about the second one?", "how about the cons?", "how about for seniors?",
          # "what if it rains?", not "What about the causes of inflation?", "What about the Cold War?", "What if we
          # colonized Mars?" (reviews 299, 301, 302)
          rf"\A{_THEN}(?:what|how) about (?:it|that|this|them|those|these|(?:the|that|this|those|these) {_BACK}\b"
          rf"{_WORDS}{{0,3}}|(?:for|in|with|without|during|if|when|at|on)\b{_WORDS}{{0,4}}){_END}",
          rf"\A{_THEN}what if (?:i|it|they|that|this|those|these)(?:['’]\w+)?\b{_WORDS}{{0,4}}{_END}",
          rf"\A{_THEN}(?:make|rewrite|rephrase|reword|shorten|simplify|expand|translate|summari[sz]e|fix|redo|change|"
          rf"turn|put|say) (?:it|that|this|them)\b{_WORDS}{{0,8}}{_END}",
          # "and for kids?", "and the cons?", "give me another", "any other ideas?", "a few more like those" (probes
          # 297, 298; not "any other books like The Hobbit?")
          rf"\A(?:and|but|or|so|ok|okay)\W+(?:for|in|on|at|with|without|during|if|when|the)\b{_WORDS}{{0,4}}{_END}",
          rf"\A{_THEN}(?:(?:give|show|tell|send) me |try )?(?:another|one more|a different one|any other|any more|"
          rf"a few more|some more|a couple more)\b(?:{_WORDS}{{0,2}}{_END}|{_WORDS}{{0,3}} {_LIKE_THOSE})",
          rf"\A{_THEN}more (?:please{_END}|{_LIKE_THOSE})",
          rf"\A{_THEN}(?:what|which) (?:are|were) (?:some |the )?(?:others|other ones){_END}",
          # "what else would help?", "what else am I missing?", not "What else causes headaches?", "What else can I
          # cook with eggs?"
          rf"\A{_THEN}what else(?: (?:is|are|matters|counts|would|could|should|can|do|am|have)\b{_WORDS}{{0,2}})?"
          rf"{_END}",
          rf"\A{_THEN}(?:explain|tell me|say) (?:more|that again|it again)(?: about (?:it|that|this|them|those|"
          rf"these)| simply| clearly| briefly)?(?: please)?{_END}"),
    # about the assistant itself (probe 297: "what model are you?", "what languages do you speak?" went to SoT)
    _rule("sequential", 0.8, "a question about the assistant",
          r"\A(?:what|which) (?:model|version|llm|ai|language model|gpt) are you\b",
          r"\A(?:what|which) languages? (?:do|can) you (?:speak|understand)\b",
          r"\A(?:do you )?remember (?:what|when|that|my|our|me)\b",  # ("can you" is dropped as politeness)
          r"\Awho (?:made|created|built|trained|programmed) you\b", r"\Awhat (?:should|can|do) i call you\b",
          r"\A(?:keep a secret|browse the (?:internet|web)|access the (?:internet|web))\W*\Z"),
]

_SOT = [
    _rule("sot", 0.8, "asks for several independent points",
          rf"\b(?:key|main|major|core|basic|biggest|common|important|different|various|top|best|essential|"
          rf"primary) \w*\s?{_LIST_NOUNS}\b",
          rf"\b{_LIST_NOUNS}\b", r"\bwhat are (?:some|the)\b", r"\bmost (?:important|common|effective|significant|"
          r"popular|influential|useful|valuable)\b", r"\btop \d+\b",
          r"\b(?:compare|comparison|contrast|differ|distinguish|distinguishes|versus|vs\.?|sets? apart)\b",
          r"\b(?:list|outline|overview|introduction to|basics|fundamentals|key concepts|main ideas|both sides|"
          r"weigh|keep in mind|should (?:i|we|you) (?:know|consider|look for))\b",
          r"^(?:recommend|suggest|name|give me|share)\b[^.?!]{0,20}\b(?:some|a few|several|\d+|three|four|five|six|seven|eight|nine|"
          r"ten|ideas)\b"),
    _rule("sot", 0.75, "asks how to get better at something (a list of tips)",
          rf"\bhow (?:can|could|should|do|does|might|would|to)\b[^?]*\b{_IMPROVE_VERBS}\b",
          r"^(?:what can|what should|what could)\b[^?]*\b(?:do|take)\b"),
    _rule("sot", 0.75, "asks about effects or importance (a list of them)",
          r"\b(?:affect|affects|impact|influence|influences|shape|shaped|change|changed|transform|transformed|"
          r"contribute|matter|role|importance|significance|purpose)\b"),
    _rule("sot", 0.7, "a counterfactual: a list of consequences",
          r"\bwhat (?:if|would happen if|would have happened if)\b", r"\bhow would\b[^?]*\b(?:if|had)\b",
          r"\bwould\b[^?]*\bhave been\b", r"\b(?:suppose|imagine a world|in a world where)\b",
          r"\bif\b[^?]*\bhad(?:n't| not)?\b[^?]*\bwhat\b"),
]

_SEQUENTIAL_LAST = [
    _rule("sequential", 0.6, "asks for a procedure whose steps depend on each other",
          r"\b(?:steps|process|procedure|instructions|recipe)\s+(?:to|for|of|involved in)\b",
          r"\bin order\b", r"\bfrom start to finish\b"),
    _rule("sequential", 0.6, "asks for a procedure whose steps depend on each other",
          r"^(?:how (?:do|can|should|would) (?:i|you|we|one)|how to)\s+(?:make|cook|bake|install|set up|setup|assemble|"
          r"configure|replace|tie|brew|register|compile|deploy|reset|format|change (?:a|the|my) (?:tire|tyre|oil))\b"),
    _rule("sequential", 0.6, "asks which of two",
          r"^(?:is|are|was|were|does|do|did|can|could|has|have|will)\b[^?]{0,60}\bor\b(?![^?]*\bwhy\b)"),
]

_POLITE = re.compile(r"^(?:(?:can|could|would|will) you(?: please)?|please|i(?:'d| would) like to know|i want to "
                     r"know|i wonder|tell me|help me)\s*,?\s*", re.IGNORECASE | re.MULTILINE)
_OPENING_CONJUNCTION = re.compile(r"^(?:and|also|so|but|ok|okay)\W+(?=(?:what|why|how|who|when|where|which|is|are|"
                                  r"was|were|do|does|did|can|could|should|would|will)\b)", re.IGNORECASE | re.MULTILINE)
# (German "Was hilft gegen ...?" asks "what helps ...?": "was" before a German verb or pronoun, or a word with an
# umlaut, is no English yes/no "was", "Was ancient Rome democratic?")
_GERMAN_AFTER_WAS = (r"(?:ist|sind|war|waren|kann|können|könnte|könnten|macht|machen|bedeutet|bedeuten|gibt|soll|"
                     r"sollte|sollten|muss|müssen|würde|würden|wäre|hat|haben|heißt|tun|passiert|hilft|helfen|"
                     r"brauche|braucht|brauchen|gehört|gehören|empfiehlst|empfehlt|empfehlen|isst|essen|kostet|"
                     r"kosten|bringt|bringen|spricht|sprechen|zeichnet|motiviert|denkst|hältst|weißt|sagt|sagen|für|"
                     r"ich|du|man|wir|ihr|es)\b|\S*[äöüß]")
_YES_NO = re.compile(rf"^(?:is|are|was(?! {_GERMAN_AFTER_WAS})|were|does|do|did|can|could|has|have|will|should)\b",
                     re.IGNORECASE)
_OPEN = re.compile(r"^(?:how|why|what|which|describe|explain|discuss|give|tell|share|suggest|about)\b",
                   re.IGNORECASE)


_SENTENCE_BREAK = re.compile(r"(?<=[.?!])\s+(?=(\S))")


def normalise(question: str) -> str:
    """The question as the rules read it: bounded, one sentence per line, politeness stripped."""
    if not isinstance(question, str):
        raise TypeError(f"question must be a str, not {type(question).__name__}")
    text = " ".join(question_view(question).split())
    # one sentence per line, so that "My bread is flat. What am I doing wrong?" opens with its question
    # (in any script that has capitals: "? Écrivez ...", "? ¿Y ...?")
    core = _SENTENCE_BREAK.sub(lambda m: "\n" if m[1].isupper() or m[1] in "\"'¿¡" else m[0], text)
    if asked := [line for line in core.split("\n") if not _SALUTATION.fullmatch(line)]:
        core = "\n".join(_SALUTATION_OPENING.sub("", line) if "?" in line[len(line.rstrip("!?")):] else line
                          for line in asked)
    # "Can you explain ..." asks the same as "Explain ...": anchor the opening patterns on the real verb
    core = _POLITE.sub("", core)
    core = _OPENING_CONJUNCTION.sub("", core)  # "And what is the capital of Canada?" asks what it asks without it
    return re.sub(r"^(what|who|how|where|when|why)'s\b", r"\1 is", core, flags=re.IGNORECASE | re.MULTILINE)


# a yes/no question that still asks for several points ("Is it worth it? What are the pros and cons?")
_LIST_CUE = re.compile(rf"\b(?:{_LIST_NOUNS}|pros|cons|trade-?offs|what|how|why|which)\b", re.IGNORECASE)


def guard(question: str) -> Decision | None:
    """A sequential ``Decision`` if the question is of a kind whose answer is one connected piece, else None."""
    core = normalise(question)
    if not core:
        return Decision("sequential", "guard: empty question", 0.5)
    if not re.search(r"[^\W\d_]", core):  # "?", "42", an emoji: nothing a list could be made of
        return Decision("sequential", "guard: no words in the question", 0.5)
    return _guard(core)


def _guard(core: str) -> Decision | None:
    for rule in GUARDS:
        if match := rule.find(core):
            return Decision("sequential", f"guard: {rule.says} ({_quoted(core, match)!r})", rule.confidence)
    asked = [s for s in core.splitlines() if s.endswith("?")] or core.splitlines()[-1:]
    # a judgement ("Is it worth learning Latin?") may want arguments on several sides: the classifier decides
    if all(_YES_NO.match(s) and not _EVALUATIVE.search(s) for s in asked) and not any(map(_LIST_CUE.search, asked)):
        return Decision("sequential", "guard: a yes/no question", 0.6)
    return None


def _quoted(core: str, match: re.Match[str]) -> str:
    """What a rule matched, for its reason, in whole words ("17 times 23", where the rule matched "7 times 2"); of a
    pattern that matches from before what it is about (a sentence's or the text's start), its ``quote_...`` group."""
    start, end = next((match.span(name) for name in match.re.groupindex
                       if name.startswith("quote_") and match.start(name) >= 0), match.span())
    while start > 0 and core[start - 1].isalnum():
        start -= 1
    while end < len(core) and core[end].isalnum():
        end += 1
    return " ".join(core[start:end].split())[:80]


class RulesRouter:
    """Routes on the question's shape with regular expressions; no model call, microseconds per question."""

    async def decide(self, question: str) -> Decision:
        return self.classify(question)

    def classify(self, question: str) -> Decision:
        """The synchronous core of ``decide``."""
        core = normalise(question)
        if not core:
            return Decision("sequential", "rules: empty question", 0.5)
        if decision := _guard(core):
            return replace(decision, reason="rules: " + decision.reason.removeprefix("guard: "))
        for rule in (*_SOT, *_SEQUENTIAL_LAST):
            if match := rule.find(core):
                return Decision(rule.mode, f"rules: {rule.says} ({_quoted(core, match)!r})", rule.confidence)
        sentences = core.splitlines()
        asked = next((s for s in reversed(sentences) if s.endswith("?")), sentences[0])
        if _YES_NO.match(asked):
            if _EVALUATIVE.search(asked) and len(asked.split()) >= 5:
                return Decision("sot", "rules: a judgement question: arguments on several sides", 0.55)
            return Decision("sequential", "rules: a yes/no question", 0.55)
        if _OPEN.match(asked):
            return Decision("sot", "rules: an open question with several aspects to cover", 0.55)
        return Decision("sequential", "rules: no sign of a list-shaped answer", 0.5)
