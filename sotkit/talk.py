"""What chat models write about the task rather than the point: a first line that only talks about it ("Sure!
Here's the continuation of point 3:", "I'll continue with point 3.", "¡Claro! Aquí tienes el punto 1:",
"好的，下面是第2点的内容：") and a last one that only offers more of the answer ("Let me know if you'd like me to expand
on ...", "Möchtest du, dass ich ...?") or only hopes it helps ("希望这些建议对你有帮助！", "I hope this helps you
improve your chess skills!") or wishes the reader well ("Happy cooking!"), in English, Spanish, Portuguese, French,
German, Italian, Chinese, Japanese, Korean, Turkish, Russian, Polish, Swedish, Indonesian (and Malay), Thai and
Vietnamese. ``ExpansionFilter`` drops both; when a line could be the point's own words, it stays.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import NamedTuple

from .runon import outside_code


class _Language(NamedTuple):
    """How one language talks about the task. Plain strings are in lower case, "#" standing for a number; the
    regular expressions name the point or the task."""
    words: tuple[str, ...]  # what only acknowledges the task: "sure", "claro"
    acknowledgements: tuple[str, ...]  # of them, what goes before the point's own text too: "Sure! They last."
    phrases: tuple[str, ...]  # what opens talk about the task: "here's", "aquí tienes", "ポイント#について"
    names: tuple[str, ...]  # the point by its number: "point 3", "第3点"
    this_point: tuple[str, ...]  # "this point"
    tails: tuple[str, ...]  # what may follow the point's name: "punto 2 ampliado", "第2点的内容", "ポイント3について説明します"
    tasks: tuple[str, ...]  # the task itself: "the continuation", "the expansion of the point"
    offers: tuple[str, ...]  # how a last line opens that offers more of the answer
    hopes: tuple[str, ...]  # how a last line opens that only hopes the answer helps
    wishes: tuple[str, ...] = ()  # a last line that only wishes the reader well: "good luck"
    # a wish that goes on, as one exclaimed sentence: "Good luck with your renovation!" (a wish's noun also opens a
    # statement: "Успехов в изучении языка добиваются те, кто ...", "success in learning comes to those who ...")
    wishes_on: tuple[str, ...] = ()


_N = r"[\d一二三四五六七八九十]+"  # a number, in digits or in Chinese numerals
# Korean for "(I'll) explain it (in detail)" or "write it": "자세히 설명드리겠습니다", "살펴볼게요", "작성하겠습니다"
_KO_EXPLAIN = (r"(?:자세히\s*|더\s*)?(?:설명(?:하겠습니다|드리겠습니다|해\s*드리겠습니다|할게요|해\s*드릴게요)"
               r"|살펴보겠습니다|살펴볼게요|알아보겠습니다|알아볼게요|작성(?:하겠습니다|해\s*드리겠습니다|할게요))")


def _you_and_nin(*items: str) -> tuple[str, ...]:
    """Chinese phrases addressing the reader, with both 你 and the polite 您."""
    return tuple(dict.fromkeys(form for item in items for form in (item, item.replace("你", "您"))))


#: an offer asked as a question ("Would you like more examples?"), which is the point's own where the line goes on
#: after it with something else ("Do you want more followers? Post daily.": advice; ``_offer_goes_on``)
_ASKS_MORE_HEADS = ("would you like more", "would you like some", "would you like any", "do you want more",
                    "do you want some", "do you want any")
_ASKS_MORE = re.compile(rf"(?:{'|'.join(_ASKS_MORE_HEADS)})\b.*?(?:[?!]|\.(?=\s|$))")  # ("Node.js?" goes on)
#: more of the offer after its question: "I can add some.", "Just say the word!" (and hopes, wishes, emoji)
_OFFER_GOES_ON = ("i can", "i could", "i'd be happy", "i would be happy", "i'm happy", "i'm here", "happy to",
                  "just ask", "just say", "just tell me", "just let me know", "let me know", "feel free", "if so",
                  "(i can")
_LETTER = re.compile(r"[^\W\d_]")


# Offers that are also a point's own advice stay: "Let me know if you run into issues", "Feel free to reach out to HR",
# "No dudes en pedir un descuento", "N'hésitez pas à négocier", "如果你需要贷款，..."; so do a rhetorical question
# ("¿Quieres que te cueste menos?") and a hope that goes on, unless as one plain sentence in a paragraph of its own
# ("I hope this helps you plan ..." in quotes, emphasis, a list or under "Example:" is a sample line).
_LANGUAGES = (
    _Language(  # English
        words=("sure", "certainly", "of course", "okay", "ok", "absolutely", "alright", "all right", "now",
               "sure thing", "no problem", "happy to help", "as requested", "great question", "good question",
               "gladly", "with pleasure", "got it", "understood", "sounds good"),
        acknowledgements=("sure", "certainly", "of course", "sure thing", "no problem", "happy to help",
                          "great question", "good question", "gladly", "with pleasure"),
        # ("let's" alone is no talk: "Let's compare this with point 1:" is a point's own)
        phrases=("here's", "here is", "i'll", "i will", "let me", "below is", "continuing with", "to continue with",
                 "expanding on", "moving on to", "let's expand on", "let's elaborate on", "let's dive into",
                 "let's dive deeper into", "let's delve into", "let's discuss", "let's look at",
                 "let's take a closer look at", "let's talk about", "let's break down", "let's continue with",
                 "let's move on to", "let's unpack"),
        names=(r"\bpoint\s*#?\d+",),
        this_point=(r"\bthis point",),
        # "Okay, here's point 3 expanded:", "... an expansion of point 3, focusing on practical support:", "...
        # the continuation of point 1, kept short:" (Gemma)
        tails=(r"\s+(?:expanded|elaborated|continued|in detail|in more detail|only)", r",\s+focusing on [^:\n]{1,80}",
               r",\s+(?:kept\s+)?(?:short|brief|concise)"),
        # "continuing with point 3.", "the expansion of this point:", "the expanded point:", "a brief expansion:"
        tasks=(r"\bcontinu\w*\b.{0,20}\bpoint",
               r"\b(?:expansion|elaboration|details?) (?:of|on|for) (?:that |the )?point",
               r"\b(?:expanded|elaborated) point",  # not "Here's our plan for expansion:", the point's own
               r"\b(?:the|a|an|my|this)\s+(?:(?:brief|short|quick|concise|detailed)\s+)?"
               r"(?:expansion|elaboration|continuation)"),
        offers=("let me know if you'd like", "let me know if you would like", "let me know if you want more",
                "let me know if you have any", "is there anything else you'd like", "let me know if you need more",
                "let me know if you need any", "let me know if there's anything", "let me know if there is anything",
                "feel free to ask me", "feel free to ask any",
                # about the reader's questions, not "Feel free to ask if the salary range is negotiable."
                *(f"feel free to ask if {what}" for what in ("you", "there", "anything", "needed", "necessary", "i",
                                                            "more details", "more information", "more help")),
                "feel free to reach out if you have", "if you'd like me to", "if you would like me to",
                "would you like me to", "do you want me to", "let me know if you need further",
                "let me know if you need additional", "let me know if you have questions", "let me know if you want",
                *_ASKS_MORE_HEADS, "if you want, i can", "if you'd like, i can", "if you like, i can",
                "want me to",  # "Want me to sketch a checklist you can reuse?"
                "let me know if you need the other points", "let me know if you need the rest of the",
                *(f"i can {also}{verb} {what}" for also in ("", "also ") for verb in ("expand", "elaborate")
                  for what in ("on any of", "on point", "point")),
                "happy to", "i'd be happy to", "i would be happy to", "i'm happy to"),  # "Happy to suggest ... if"
        # (the answer's own tips too: "I hope these tips help you plan your wedding!", not "...: use cash!")
        hopes=("i hope this helps", "i hope that helps", "hope this helps", "hope that helps",
               "i hope this is helpful", "hope this is helpful", "i hope this was helpful",
               "i hope you find this helpful", "i hope this is useful", "hope this is useful", "i hope these tips help",
               "hope these tips help", "i hope these ideas help", "i hope these suggestions help"),
        wishes=("good luck", "best of luck", "have a great trip", "have a wonderful trip", "have a great time",
                "have a wonderful time", "enjoy your trip", "safe travels", "happy travels", "sweet dreams",
                "sleep tight"),
        # "Have a wonderful time exploring Japan!"
        wishes_on=("good luck with", "good luck on", "best of luck with", "best of luck on", "have a great time",
                   "have a wonderful time",
                   # "Wishing you a fulfilling retirement! 🌱", not "Wishing you were back home is normal!"
                   # (not "well" nor "both": "Wishing you well in your new role!" is as often a card's line)
                   *(f"wishing you {what}" for what in ("a", "an", "all the", "the best", "every", "good", "great",
                                                        "lots of", "much", "many", "success", "luck", "happy",
                                                        "continued", "smooth", "safe"))),
    ),
    _Language(  # Spanish
        words=("claro", "claro que sí", "por supuesto", "desde luego", "de acuerdo", "perfecto", "entendido",
               "muy bien", "vale"),
        acknowledgements=("claro", "claro que sí", "por supuesto", "desde luego"),
        phrases=("aquí tienes", "aquí tiene", "aquí está", "aquí va", "a continuación", "continúo con",
                 "continuamos con", "sigo con", "seguimos con", "vamos con", "paso a", "te presento", "voy a"),
        names=(r"\bpunto\s*#?\d+",),
        this_point=(r"\beste punto",),
        tails=(r"\s+(?:ampliado|desarrollado|detallado|en detalle|con más detalle)",),
        tasks=(r"\bla continuación", r"\b(?:ampliación|desarrollo|expansión|explicación) del punto"),
        offers=("si quieres, puedo", "si lo deseas, puedo", "si te interesa, puedo", "¿quieres que te dé",
                "¿quieres que te prepare", "¿quieres que te ayude", "¿quieres que te explique",
                "¿quieres que te muestre", "¿quieres que te recomiende", "¿quieres que amplíe",
                "¿quieres que profundice", "¿te gustaría que te prepare", "¿te gustaría que amplíe",
                "¿te gustaría que profundice", "avísame si quieres", "avísame si necesitas", "avísame si tienes",
                "dime si quieres", "dime si necesitas", "no dudes en preguntarme", "no dudes en preguntar si",
                "no dudes en consultarme", "no dudes en escribirme", "no dudes en decírmelo"),
        hopes=("espero que te sea útil", "espero que esto te sea útil", "espero que te ayude",
               "espero que esto te ayude", "espero que te sirva", "espero que te haya sido útil",
               "espero haberte ayudado", "espero que estos consejos te sirvan", "espero que estos consejos te ayuden",
               "espero que estos consejos", "espero que estas ideas", "espero que estas sugerencias",
               "espero que estas recomendaciones"),
        wishes=("buena suerte", "mucha suerte", "buen viaje", "feliz viaje", "buen provecho", "que disfrutes",
                "que lo disfrutes", "éxito", "mucho éxito"),
        wishes_on=("buena suerte con", "buena suerte en", "mucha suerte con", "mucha suerte en",
                   "mucho éxito con", "mucho éxito en"),  # "¡Mucha suerte en tu carrera!"
    ),
    _Language(  # Portuguese
        words=("claro", "com certeza", "certo", "perfeito", "tudo bem", "sem problemas", "ótimo"),
        acknowledgements=("claro", "com certeza"),
        phrases=("aqui está", "aqui estão", "aqui vai", "segue", "a seguir", "continuando com", "continuo com",
                 "vamos ao", "vamos para o", "vou", "passo ao", "passando ao"),
        names=(r"\bponto\s*#?\d+",),
        this_point=(r"\b(?:este|esse) ponto",),
        tails=(r"\s+(?:expandido|desenvolvido|detalhado|em detalhe|em mais detalhes)",),
        tasks=(r"\ba continuação", r"\b(?:expansão|desenvolvimento|ampliação|explicação) do ponto"),
        offers=("quer que eu", "você quer que eu", "gostaria que eu", "se quiser, posso", "se você quiser, posso",
                "se preferir, posso", "me avise se quiser", "me avise se precisar", "me diga se quiser",
                "me diga se precisar", "fique à vontade para me perguntar", "fique à vontade para perguntar se",
                "qualquer dúvida, é só me", "estou à disposição", "fico à disposição"),
        hopes=("espero que ajude", "espero que isso ajude", "espero que isso te ajude", "espero que isto ajude",
               "espero ter ajudado", "espero que seja útil", "espero que isso seja útil",
               "espero que essas dicas ajudem", "espero que essas dicas te ajudem", "espero que essas dicas",
               "espero que estas dicas", "espero que essas ideias", "espero que essas sugestões",
               "espero que esses conselhos", "espero que estes conselhos"),
        wishes=("boa sorte", "boa viagem", "bom apetite", "bons estudos", "bom trabalho", "sucesso", "muito sucesso",
                "aproveite"),
        wishes_on=("boa sorte na", "boa sorte no", "boa sorte nas", "boa sorte nos", "boa sorte com", "boa sorte em",
                   "muito sucesso na", "muito sucesso no"),  # "Boa sorte na entrevista!"
    ),
    _Language(  # French
        words=("bien sûr", "d'accord", "certainement", "parfait", "très bien", "volontiers", "entendu",
               "avec plaisir", "absolument"),
        acknowledgements=("bien sûr", "certainement", "avec plaisir", "volontiers"),
        phrases=("voici", "voilà", "je vais", "je continue", "je poursuis", "continuons", "poursuivons", "passons",
                 "ci-dessous"),
        names=(r"\bpoint\s*n°\s*\d+",),  # "point 2" is English's
        this_point=(r"\bce point",),
        tails=(r"\s+(?:développé|détaillé|en détail|plus en détail)",),
        tasks=(r"\bla suite", r"\bla continuation", r"\b(?:développement|approfondissement) (?:du|de ce) point"),
        offers=("n'hésitez pas si vous voulez", "n'hésitez pas si vous souhaitez",
                "n'hésitez pas si vous avez des questions", "n'hésitez pas si vous avez besoin",
                "n'hésite pas si tu veux", "n'hésite pas si tu as des questions", "n'hésitez pas à me",
                "n'hésite pas à me", "voulez-vous que je", "veux-tu que je", "souhaitez-vous que je",
                "si vous le souhaitez, je peux", "si vous voulez, je peux", "si tu veux, je peux",
                "dites-moi si vous voulez", "dites-moi si vous souhaitez", "dis-moi si tu veux",
                "je reste à votre disposition", "je reste à ta disposition"),
        hopes=("j'espère que cela vous aide", "j'espère que cela vous aidera", "j'espère que cela vous sera utile",
               "j'espère que ça vous aide", "j'espère que cela t'aide", "j'espère que ça t'aide",
               "j'espère que cela t'aidera", "en espérant que cela vous aide", "j'espère que ces conseils",
               "j'espère que ces idées", "j'espère que ces suggestions", "j'espère que ces astuces",
               "en espérant que ces conseils"),
        wishes=("bonne chance", "bon voyage", "bon appétit", "bon courage", "bonne continuation", "bonne réussite",
                "amusez-vous bien", "amuse-toi bien"),
        wishes_on=("bonne chance pour", "bonne chance avec", "bon courage pour", "bonne réussite pour"),
    ),
    _Language(  # German
        words=("gerne", "gern", "klar", "natürlich", "selbstverständlich", "alles klar", "sicher", "okay"),
        acknowledgements=("gerne", "gern", "klar", "natürlich", "selbstverständlich"),
        phrases=("hier ist", "hier sind", "hier kommt", "hier folgt", "hier die", "hier der", "im folgenden",
                 "nachfolgend", "ich werde", "ich fahre", "ich setze", "weiter mit", "weiter geht", "fahren wir",
                 "kommen wir"),
        names=(r"\bpunkt\s*(?:nr\.\s*)?#?\d+",),
        this_point=(r"\bdies(?:en|em|er|es) punkt(?:es|s)?",),
        tails=(r"\s+(?:im detail|ausführlich|ausgeführt|näher erläutert|fort)",),  # "ich fahre mit Punkt 3 fort."
        tasks=(r"\bdie fortsetzung", r"\b(?:ausarbeitung|ausführung|erläuterung|vertiefung) des punkt(?:es|s)"),
        offers=("möchtest du, dass ich", "möchten sie, dass ich", "soll ich dir", "soll ich ihnen",
                "wenn du möchtest, kann ich", "wenn sie möchten, kann ich", "falls du möchtest, kann ich",
                "falls sie möchten, kann ich", "wenn du willst, kann ich", "wenn sie wollen, kann ich",
                "falls du willst, kann ich", "sag gern bescheid", "sag gerne bescheid", "sag mir gern",
                "sag mir gerne", "sag mir einfach", "lass mich wissen, ob", "lass es mich wissen",
                "melde dich gern, wenn du fragen", "melde dich gerne, wenn du fragen", "frag mich gern",
                "frag mich gerne", "bei fragen melde dich", "bei weiteren fragen melde dich",
                "bei fragen zu einzelnen punkten", "bei weiteren fragen stehe ich"),
        hopes=("ich hoffe, das hilft", "ich hoffe, das hilft dir", "ich hoffe, das hilft dir weiter",
               "ich hoffe, das hilft ihnen", "ich hoffe, das hilft ihnen weiter", "ich hoffe, diese tipps helfen dir",
               "hoffentlich hilft dir das", "hoffentlich hilft das", "ich hoffe, diese tipps", "ich hoffe, die tipps",
               "ich hoffe, diese ideen", "ich hoffe, diese vorschläge", "ich hoffe, diese anregungen",
               "hoffentlich helfen dir diese tipps", "hoffentlich helfen ihnen diese tipps"),
        wishes=("viel glück", "viel erfolg", "gute reise", "guten appetit", "viel spaß", "alles gute"),
        wishes_on=("viel glück bei", "viel glück mit", "viel erfolg bei", "viel erfolg mit", "viel spaß bei",
                   "viel spaß mit"),
    ),
    _Language(  # Italian
        words=("certo", "certo che sì", "certamente", "sicuro", "va bene", "perfetto", "volentieri", "d'accordo",
               "assolutamente"),
        acknowledgements=("certo", "certo che sì", "certamente", "volentieri"),
        phrases=("ecco", "di seguito", "qui di seguito", "continuo con", "proseguo con", "passiamo", "continuiamo",
                 "vediamo", "ti presento"),
        names=(r"\bpunto\s*#?\d+",),
        this_point=(r"\bquesto punto",),
        tails=(r"\s+(?:approfondito|sviluppato|ampliato|in dettaglio|nel dettaglio)",),
        tasks=(r"\bla continuazione", r"\bil seguito", r"\b(?:approfondimento|sviluppo|espansione) del punto"),
        offers=("vuoi che ti prepari", "vuoi che ti dia", "vuoi che ti mostri", "vuoi che ti spieghi",
                "vuoi che ti aiuti", "vuoi che approfondisca", "ti piacerebbe che approfondisca", "se vuoi, posso",
                "se desideri, posso", "se ti interessa, posso", "fammi sapere se vuoi", "fammi sapere se hai",
                "fammi sapere se desideri", "non esitare a chiedermi", "non esitare a chiedere se",
                "non esitare a contattarmi", "non esitare a scrivermi", "resto a disposizione",
                "rimango a disposizione"),
        hopes=("spero che questo ti sia utile", "spero che ti sia utile", "spero ti sia utile",
               "spero che questo ti aiuti", "spero di esserti stato utile",
               "spero che queste informazioni ti siano utili", "spero che questi consigli ti siano utili",
               "spero che questi consigli", "spero che queste idee", "spero che questi suggerimenti",
               "spero che queste informazioni"),
        wishes=("buona fortuna", "in bocca al lupo", "buon viaggio", "buon appetito", "buon lavoro",
                "buon divertimento"),
        wishes_on=("buona fortuna con", "buona fortuna per", "in bocca al lupo per", "buon lavoro con"),
    ),
    _Language(  # Chinese
        words=("好的", "当然", "当然可以", "没问题", "可以"),
        acknowledgements=("好的", "当然", "当然可以", "没问题"),
        phrases=("下面", "以下", "接下来", "我来", "我将", "让我", "这是", "继续"),
        names=(rf"第\s*{_N}\s*(?:点|个要点|個要點|条|條|项|項|部分)",),
        this_point=("这一点", "这个要点"),
        tails=(r"的?(?:详细|具体)?(?:内容|展开|说明|阐述|解释|扩展|论述)?(?:如下)?",),
        tasks=(r"(?:详细|具体)(?:展开|扩展)|(?:扩展|展开)内容|续写",),
        offers=_you_and_nin("如果你需要，我可以", "如果需要，我可以", "如果需要的话，我可以", "需要的话，我可以", "你需要我",
                            "是否需要我", "要不要我", "需要我帮你", "如果你想让我",
                            # "(if you have questions,) you are welcome to ask (me)": not "..., 欢迎同事提出", colleagues
                            *(f"{asked}{ask}" for asked in ("", "如果你还有其他问题，", "如有其他问题，", "如果有任何问题，",
                                                            "有任何问题")
                              for ask in ("欢迎随时提问", "欢迎继续提问", "欢迎提问", "欢迎随时问我", "欢迎问我", "欢迎随时向我",
                                          "欢迎向我", "欢迎随时联系我", "欢迎留言", "欢迎随时留言", "欢迎在评论区留言", "欢迎继续交流",
                                          "可以随时问我", "请随时告诉我", "随时告诉我")),
                            # "if you need more detail, tell me.": not "..., 请咨询医生" or "..., 请告诉我们的客服"
                            *(f"{need}更多{what}，请{tell}告诉我{end}" for need in ("如果需要", "如果你需要", "如需")
                              for what in ("细节", "信息", "详细信息") for tell in ("", "随时") for end in "。！")),
        hopes=_you_and_nin("希望这些建议对你有帮助", "希望这些信息对你有帮助", "希望以上内容对你有帮助", "希望对你有帮助",
                           "希望对你有所帮助", "希望这对你有帮助", "希望这能帮到你", "希望能帮到你", "希望这些建议", "希望这些方法",
                           "希望这些技巧", "希望以上建议"),
        wishes=("祝你好运", "祝您好运", "祝你成功", "祝您成功", "祝你一切顺利", "祝您一切顺利", "旅途愉快", "祝你旅途愉快"),
    ),
    _Language(  # Japanese: the verb comes last, so a line that names the point first is talk by its verb
        words=("もちろんです", "もちろん", "かしこまりました", "承知しました", "承知いたしました", "了解しました", "わかりました", "はい"),
        acknowledgements=("もちろんです", "かしこまりました", "承知しました", "承知いたしました"),
        phrases=("それでは", "では", "ここでは", "以下では", "以下は", "以下に", "続いて", "引き続き", "次に", "次は",
                 "こちらが", "こちらは",
                 # the point's name with its particle ("ポイント1：..." opens the point's own list)
                 "ポイント#について", "ポイント#の", "ポイント#を", "第#点について", "第#点の", "第#点を",
                 "#つ目のポイントについて", "#番目のポイント", "#番目の点",
                 # "ポイント2は次のとおりです": not "ポイント2は照明です", the point's own words, released at once
                 "ポイント#は次", "ポイント#は以下", "第#点は次", "第#点は以下"),
        names=(rf"ポイント\s*{_N}", rf"第\s*{_N}\s*(?:点|の?ポイント)", rf"{_N}\s*(?:つ|番)目の(?:ポイント|点)"),
        this_point=("このポイント", "この点"),
        # "について説明します", "を続けます", "の詳細です"
        tails=(r"(?:について|を|の)(?:詳しく|詳細に|さらに)?(?:(?:(?:説明|解説|展開|紹介|詳述)(?:して(?:いき)?|いたし|し)"
               r"|続け|見ていき)(?:ます|ましょう)|(?:詳細|内容|続き|説明|解説)(?:です|となります))?",
               # "こちらがポイント2です", "ポイント2は次のとおりです", "ポイント3の内容は以下の通りです"
               r"(?:の(?:詳細|内容|続き|説明|解説))?(?:は(?:次|以下)の(?:とおり|通り))?(?:です|となります)"),
        tasks=(r"続き(?:です|となります)",),
        offers=("他にご不明な点があれば", "ほかにご不明な点があれば", "他にご質問があれば", "ほかにご質問があれば", "他に質問があれば",
                "何か他にご質問があれば", "他にもお手伝いできることがあれば", "お気軽にお尋ねください", "お気軽にご質問ください",
                "お気軽にどうぞ", "さらに詳しく説明しましょうか", "もっと詳しく説明しましょうか", "必要であれば、さらに詳しく"),
        hopes=("お役に立てれば幸いです", "お役に立てば幸いです", "参考になれば幸いです", "少しでも参考になれば幸いです",
               "参考になれば嬉しいです", "お役に立てれば嬉しいです",
               *(f"これらの{tips}が{helps}幸いです" for tips in ("ヒント", "アドバイス") for helps in ("お役に立てば", "参考になれば"))),
        wishes=("頑張ってください", "がんばってください", "頑張って", "幸運を祈ります", "良い旅を", "楽しんでください"),
    ),
    _Language(  # Korean: the verb comes last, as in Japanese
        words=("물론입니다", "물론이죠", "물론", "네", "알겠습니다", "좋습니다", "좋아요", "그럼요"),
        acknowledgements=("물론입니다", "물론이죠", "알겠습니다"),
        phrases=("다음은", "아래는", "이어서", "계속해서", "포인트 #", "포인트#", "#번 항목", "#번째 항목", "#번 포인트",
                 "#번째 포인트"),
        names=(r"포인트\s*\d+", r"\d+\s*번(?:째)?\s*(?:항목|포인트|요점)", r"항목\s*\d+"),
        this_point=("이 항목", "이 포인트"),
        # "에 대해 자세히 설명드리겠습니다", "의 내용은 다음과 같습니다", "입니다"
        tails=(rf"(?:에\s*(?:대해서?|관해서?)|[을를])\s*{_KO_EXPLAIN}"
               r"|(?:에\s*대한|의)\s*(?:자세한\s*|상세한\s*)?(?:내용|설명)(?:입니다|은\s*다음과\s*같습니다)"
               r"|[은는]\s*다음과\s*같습니다|입니다|으?로\s*넘어가겠습니다",),
        tasks=(r"이어서\s*작성하겠습니다", r"확장된\s*내용입니다"),
        # "if you have (more) questions, ask me any time", "if you like, I (can) ..."
        offers=(*(f"{asked} {ask}"
                  for asked in ("궁금한 점이 있으시면", "더 궁금한 점이 있으시면", "추가로 궁금한 점이 있으시면",
                                "혹시 더 궁금한 점이 있으시면", "궁금한 점이 있으면", "더 궁금한 점이 있으면",
                                "다른 질문이 있으시면", "더 자세한 내용이 필요하시면", "자세한 내용이 필요하시면",
                                "더 자세한 정보가 필요하시면", "추가 정보가 필요하시면")
                  for ask in ("언제든지 물어보세요", "언제든지 질문해 주세요", "언제든지 말씀해 주세요",
                              "언제든지 말씀해주세요", "언제든 물어보세요", "편하게 물어보세요", "편하게 말씀해 주세요",
                              "말씀해 주세요", "말씀해주세요")),
                "원하시면 제가", "필요하시면 제가", "더 자세히 알려드릴까요", "더 자세히 설명해 드릴까요"),
        # "(이 내용이) 도움이 되셨으면 좋겠습니다", formal and informal: not "도움이 되는 습관은 ...", advice
        hopes=tuple(f"{subject}{helped}"
                    for subject in ("", "이 내용이 ", "이 정보가 ", "이 팁들이 ", "이 방법들이 ", "이 조언이 ", "이 글이 ",
                                    "위 내용이 ", "조금이나마 ")
                    for helped in ("도움이 되셨으면 좋겠습니다", "도움이 되었으면 좋겠습니다", "도움이 됐으면 좋겠습니다",
                                   "도움이 되셨으면 합니다", "도움이 되었으면 합니다", "도움이 되길 바랍니다",
                                   "도움이 되기를 바랍니다", "도움이 되셨기를 바랍니다", "도움이 되었기를 바랍니다",
                                   "도움이 되셨으면 좋겠어요", "도움이 되었으면 좋겠어요", "도움이 됐으면 좋겠어요",
                                   "도움이 되길 바라요", "도움이 되셨길 바랍니다", "도움이 되었길 바랍니다",
                                   "도움이 됐길 바랍니다", "참고가 되셨으면 좋겠습니다", "참고가 되길 바랍니다")),
        wishes=("행운을 빕니다", "행운을 빌어요", "화이팅", "파이팅", "좋은 결과 있으시길 바랍니다", "성공을 기원합니다",
                "즐거운 여행 되세요", "즐거운 여행 되시길 바랍니다", "좋은 여행 되세요", "맛있게 드세요"),
    ),
    _Language(  # Turkish
        words=("tabii", "tabii ki", "elbette", "tamam", "peki", "memnuniyetle", "kesinlikle"),
        acknowledgements=("tabii", "tabii ki", "elbette", "memnuniyetle"),
        phrases=("işte", "şimdi", "sırada", "sıradaki", "aşağıda",
                 # the point's name with its case ending: "3. maddeyi genişletiyorum:"
                 "#. madde", "#. maddenin", "#. maddeyi", "#. maddeye", "#. maddeyle", "#. nokta", "#. noktanın",
                 "#. noktayı", "#. noktaya", "#. noktayla"),
        names=(r"\b\d+\.\s*(?:madde|nokta)", r"\bmadde\s*\d+",
               r"\b(?:birinci|ikinci|üçüncü|dördüncü|beşinci|altıncı|yedinci|sekizinci|dokuzuncu|onuncu)"
               r"\s+(?:madde|nokta)"),
        this_point=(r"\bbu (?:madde|nokta)",),
        # "(madde)nin detaylı açıklaması", "(madde)yi genişletiyorum", "(madde) ile devam ediyorum", "(madde)ye geçelim"
        tails=(r"n[iı]n\s+(?:detaylı\s+|ayrıntılı\s+)?(?:açıklaması|detayları|ayrıntıları|genişletilmiş\s+hali|devamı)"
               r"|y[iı]\s+(?:(?:detaylı|ayrıntılı)(?:\s+olarak)?\s+)?(?:açıklıyorum|genişletiyorum|detaylandırıyorum"
               r"|ele\s+alıyorum|açıklayalım|genişletelim|detaylandıralım|ele\s+alalım)"
               r"|(?:\s+ile|yle|yla)\s+devam\s+(?:ediyorum|edelim|ediyoruz)|y[ea]\s+geç(?:elim|iyorum)"
               r"|\s+hakkında(?:\s+(?:detaylar|ayrıntılar))?",),
        tasks=(r"\bişte\s+(?:devamı|genişletilmiş\s+hali)",),  # not "İşte hikayenin devamı:", the point's own
        # "if you have other questions, don't hesitate to ask / (tell) me": not "... ask your accountant"
        offers=(*(f"{asked} {ask}"
                  for asked in ("başka sorunuz olursa", "başka sorularınız olursa", "başka sorunuz varsa",
                                "başka sorularınız varsa", "başka bir sorunuz olursa", "başka bir sorunuz varsa",
                                "başka sorun olursa", "başka sorun varsa", "daha fazla ayrıntı isterseniz",
                                "daha fazla bilgi isterseniz", "daha fazla detay isterseniz")
                  for ask in ("sormaktan çekinmeyin", "sormaktan çekinme", "bana")),
                "yardımcı olabileceğim başka bir şey olursa", "yardımcı olabileceğim başka bir şey varsa",
                "daha fazla bilgi ister misiniz", "daha fazla detay ister misiniz"),
        hopes=("umarım yardımcı olur", "umarım yardımcı olmuştur", "umarım yardımcı olabilmişimdir",
               "umarım faydalı olur", "umarım faydalı olmuştur", "umarım işinize yarar", "umarım işine yarar",
               "umarım bu bilgiler", "umarım bu ipuçları", "umarım bu öneriler", "umarım bu tavsiyeler",
               "yardımcı olması dileğiyle", "faydalı olması dileğiyle"),
        wishes=("bol şans", "iyi şanslar", "başarılar", "başarılar dilerim", "kolay gelsin", "afiyet olsun",
                "iyi yolculuklar"),
    ),
    _Language(  # Russian
        words=("конечно", "разумеется", "хорошо", "отлично", "да", "с удовольствием"),
        acknowledgements=("конечно", "разумеется", "с удовольствием"),
        phrases=("вот", "ниже", "далее", "продолжаю", "продолжим", "перехожу к", "переходим к", "рассмотрим",
                 "давайте рассмотрим", "давайте перейдём к", "давайте перейдем к"),
        names=(r"\bпункт\w*\s*(?:№\s*)?\d+",),
        this_point=(r"\bэт(?:от|ого|ому|им) пункт\w*",),
        tails=(r"\s+(?:подробнее|подробно|более подробно|детально|в деталях)",),
        tasks=(r"\bпродолжение", r"\b(?:раскрытие|подробное описание|развёрнутое описание|развернутое описание)"
                                  r" пункта"),
        offers=("если хотите, я могу", "если хочешь, я могу", "если нужно, я могу", "хотите, я", "хочешь, я",
                "хотите, чтобы я", "хочешь, чтобы я", "дайте знать, если", "дай знать, если",
                "если у вас есть вопросы, задавайте", "если остались вопросы, задавайте",
                "если у вас остались вопросы, задавайте", "если возникнут вопросы, задавайте"),
        hopes=("надеюсь, это поможет", "надеюсь, это помогло", "надеюсь, это было полезно",
               "надеюсь, это будет полезно", "надеюсь, эти советы", "надеюсь, эта информация"),
        wishes=("удачи", "успехов", "желаю удачи", "желаю успехов", "приятного аппетита", "хорошей поездки",
                "удачной поездки", "приятного путешествия", "хорошего путешествия", "счастливого пути"),
        wishes_on=("удачи в", "удачи с", "удачи на", "успехов в"),  # "Удачи в ремонте!"
    ),
    _Language(  # Polish
        words=("jasne", "oczywiście", "pewnie", "dobrze", "okej", "świetnie"),
        acknowledgements=("jasne", "oczywiście", "pewnie"),
        phrases=("oto", "poniżej", "przechodzę do", "przejdźmy do", "kontynuuję", "kontynuując"),
        names=(r"\bpunkt(?:u|em|owi)?\s*(?:nr\.?\s*)?#?\d+",),
        this_point=(r"\b(?:ten|tego|tym) punkt(?:u|em)?",),
        tails=(r"\s+(?:szczegółowo|bardziej szczegółowo|w szczegółach)",),
        tasks=(r"\b(?:kontynuacja|rozwinięcie|omówienie) punktu",),
        # (not "daj znać, jeśli ...", "let me know if ...", nor "chętnie pomogę": the point's own advice too)
        offers=("daj znać, jeśli chcesz", "dajcie znać, jeśli chcecie", "jeśli chcesz, mogę", "jeśli chcesz, to mogę",
                "czy chcesz, żebym", "czy chcesz, abym"),
        hopes=("mam nadzieję, że to pomoże", "mam nadzieję, że te wskazówki", "mam nadzieję, że te porady",
               "mam nadzieję, że ta informacja", "mam nadzieję, że to było pomocne"),
        # (no wish that goes on, "Powodzenia na egzaminie!": "Powodzenia w biznesie nie da się kupić!" is a statement,
        # and Polish joins advice with "a", which English and Italian write too)
        wishes=("powodzenia", "miłej podróży", "smacznego", "udanej zabawy", "trzymam kciuki"),
    ),
    _Language(  # Swedish
        words=("visst", "javisst", "absolut", "självklart", "okej", "gärna"),
        acknowledgements=("visst", "javisst", "självklart"),  # ("Absolut!", as "Absolutely!", may be the point's)
        phrases=("här är", "här kommer", "nedan följer", "jag fortsätter med", "vi fortsätter med", "nu till"),
        names=(r"\bpunkt\s*#?\d+",),
        this_point=(r"\bdenna punkt", r"\bden här punkten"),
        tails=(r"\s+(?:utvecklad|i detalj|mer ingående)",),
        tasks=(r"\b(?:fortsättningen|utvecklingen) (?:av|på) punkt",),
        # (not "vill du att jag": "Vill du att jag ska lita på dig, måste du ..." opens an if-clause)
        offers=("säg till om du vill", "hör av dig om du vill", "om du vill kan jag", "berätta gärna om du vill"),
        hopes=("hoppas det hjälper", "hoppas detta hjälper", "hoppas att det hjälper", "hoppas att detta hjälper",
               "hoppas tipsen hjälper"),
        wishes=("lycka till", "trevlig resa", "smaklig måltid", "ha så kul"),
        wishes_on=("lycka till med", "lycka till på"),  # "Lycka till med föredraget!"
    ),
    _Language(  # Indonesian and Malay
        words=("tentu", "tentu saja", "baik", "baiklah", "oke", "siap", "dengan senang hati"),
        acknowledgements=("tentu", "tentu saja", "baiklah", "dengan senang hati"),
        phrases=("berikut", "berikut ini", "ini dia", "di bawah ini", "saya akan", "mari kita", "lanjut ke",
                 "melanjutkan"),
        names=(r"\bpoin\s*(?:ke-?\s*)?#?\d+",
               r"\bpoin\s+(?:pertama|ke(?:dua|tiga|empat|lima|enam|tujuh|delapan|sembilan|sepuluh))"),
        this_point=(r"\bpoin ini",),
        tails=(r"\s+(?:(?:secara|dengan)\s+(?:lebih\s+)?(?:rinci|detail|mendalam)|lebih\s+(?:lanjut|rinci|detail))",),
        # Malay's "sambungan untuk titik 3:" ("titik": a geometric point too, "perkara": a law's article)
        tasks=(r"\blanjutannya", r"\bsambungan (?:untuk|bagi) (?:titik|perkara|poin)\s*\d+"),
        offers=("jika anda ingin, saya bisa", "jika anda mau, saya bisa", "kalau mau, saya bisa",
                "jika mau, saya bisa", "apakah anda ingin saya", "mau saya", "beri tahu saya jika", "kabari saya jika",
                "jika ada pertanyaan lain, jangan ragu", "jika ada pertanyaan lebih lanjut, jangan ragu",
                "jangan ragu untuk bertanya lagi"),
        hopes=("semoga membantu", "semoga bermanfaat", "semoga ini membantu", "semoga informasi ini",
               "semoga tips ini", "semoga tips-tips ini", "semoga saran ini", "semoga sukses dengan",
               "semoga berhasil dengan"),
        wishes=("semoga berhasil", "semoga sukses", "selamat mencoba", "selamat memasak", "selamat berlibur",
                "selamat jalan", "selamat menikmati"),
    ),
    _Language(  # Thai (written without spaces between words: a point's name is not sought at a word's start)
        words=("แน่นอน", "แน่นอนค่ะ", "แน่นอนครับ", "ได้เลย", "ได้เลยค่ะ", "ได้เลยครับ", "ได้ค่ะ", "ได้ครับ"),
        acknowledgements=("แน่นอน", "แน่นอนค่ะ", "แน่นอนครับ", "ได้เลยค่ะ", "ได้เลยครับ"),
        phrases=("นี่คือ", "ต่อไปนี้คือ", "ด้านล่างนี้คือ", "ต่อไปเป็น", "มาต่อกันที่"),
        names=(r"(?:ข้อ|ประเด็น)(?:ที่)?\s*\d+",),  # "ส่วนขยายของข้อ 1": "the expansion of item 1"
        this_point=("ข้อนี้", "ประเด็นนี้"),
        tails=(),
        tasks=(),
        # (not "หากต้องการให้ ...", "if you want ... to": it opens advice as often)
        offers=("หากมีคำถามเพิ่มเติม", "ถ้ามีคำถามเพิ่มเติม"),
        hopes=("หวังว่าจะเป็นประโยชน์", "หวังว่าข้อมูลนี้", "หวังว่าคำแนะนำนี้", "หวังว่าเคล็ดลับเหล่านี้",
               "หวังว่าจะช่วยได้"),
        # with the polite particles that end a sentence: "ขอให้โชคดีค่ะ!"
        wishes=tuple(wish + particle for wish in ("ขอให้โชคดี", "โชคดี", "เดินทางปลอดภัย")
                     for particle in ("", "นะ", "ค่ะ", "ครับ", "นะคะ", "นะครับ")),
    ),
    _Language(  # Vietnamese
        words=("chắc chắn rồi", "chắc chắn", "tất nhiên rồi", "tất nhiên", "dĩ nhiên", "được thôi", "vâng"),
        acknowledgements=("chắc chắn rồi", "tất nhiên rồi", "tất nhiên", "dĩ nhiên"),
        phrases=("dưới đây là", "sau đây là", "đây là", "tiếp theo là", "tiếp theo", "tôi sẽ", "mình sẽ",
                 "tiếp tục với"),
        names=(r"\b(?:điểm|ý|mục)\s*(?:thứ\s*)?(?:số\s*)?\d+",),
        this_point=(r"\b(?:điểm|ý|mục) này",),
        tails=(r"\s+(?:(?:một cách\s+)?chi tiết(?:\s+hơn)?|(?:được\s+)?mở rộng)",),
        tasks=(),
        offers=("nếu bạn muốn, tôi có thể", "nếu bạn muốn, mình có thể", "nếu bạn cần, tôi có thể",
                "bạn có muốn tôi", "bạn có muốn mình", "hãy cho tôi biết nếu", "hãy cho mình biết nếu",
                "đừng ngần ngại hỏi tôi", "đừng ngần ngại cho tôi biết"),
        # "hope this information / these tips ...", not "Hy vọng điều này không xảy ra", the point's own
        hopes=(*(f"{hope} {these}" for hope in ("hy vọng", "hi vọng")
                 for these in ("những thông tin này", "thông tin này", "những gợi ý này", "những mẹo này",
                               "những lời khuyên này", "điều này giúp ích", "điều này sẽ giúp ích",
                               "điều này hữu ích")),
               "chúc bạn thành công", "chúc bạn may mắn"),  # "Chúc bạn thành công với quán cà phê!"
        wishes=("chúc may mắn", "chúc bạn ngon miệng", "chúc ngon miệng", "chúc bạn thượng lộ bình an",
                "thượng lộ bình an", "chúc bạn có chuyến đi vui vẻ", "chúc bạn ngủ ngon"),
    ),
)


def _all(field: str) -> tuple[str, ...]:
    """The field's items in every language, each once."""
    return tuple(dict.fromkeys(item for language in _LANGUAGES for item in getattr(language, field)))


def _any(field: str) -> str:
    """The field's regular expressions in every language, as one."""
    return f"(?:{'|'.join(_all(field))})"


_NO_COMMAS = str.maketrans("", "", ",，、")


def _lower(text: str) -> str:
    """Lower case as the plain strings are written: "İşte" is "işte" (not "i̇şte", an "i" with a dot added), "’" is
    "'"."""
    return text.replace("İ", "i").lower().replace("’", "'")


def _plain(text: str) -> str:
    """A last line (or an offer) as it is matched: lower case, without an opening "¿"/"¡" and commas ("Möchtest du
    dass ich")."""
    return _lower(text).lstrip("¡¿").translate(_NO_COMMAS)


def _strings(items: Iterable[str], whole_words: bool = True, said: bool = False) -> str:
    """Plain strings as one pattern ("#": a number), the longest first ("claro que sí" before "claro"); a word
    written in letters ends there ("sigo con" is no start of "sigo contando"), one in Chinese, Japanese, Korean or
    Thai characters need not, but what is ``said`` to the reader (a closing) ends where it can (``_end``)."""
    return "|".join(re.escape(item).replace(r"\#", _N).replace("'", "['’]") + _end(item[-1], whole_words, said)
                    for item in sorted(items, key=len, reverse=True))


# A closing's words in Chinese or Japanese, written without spaces, end where what follows cannot go on with them:
# 我 ("I") is no start of 我们 ("we": "您需要我们提供的材料 ..." says what an office needs), and words before 是, 的 or
# と are a sentence's subject, a modifier or a quotation ("欢迎随时提问是团队文化的一部分", "希望对你有帮助的人",
# "お気軽にどうぞと書かれた看板"), not said to the reader.
_CJK_SAID = {"我": "(?![们們])"}
_CJK_NOT_SAID = "(?![是的と])"


def _end(last: str, whole_words: bool, said: bool) -> str:
    """What must follow a plain string ending in ``last`` (see ``_strings``)."""
    if "\u0e00" <= last <= "\u0e7f":  # Thai, written without spaces between words: a letter may follow any
        return ""
    if last < "\u2e80":
        return r"\b" if whole_words and last.isalnum() else ""
    return _CJK_SAID.get(last, _CJK_NOT_SAID) if said else ""


_META_WORDS, _META_PHRASES = _all("words"), _all("phrases")
_WORDS_FIRST = rf"(?:(?:{_strings(_META_WORDS, False)})[^\w\n]++)*"  # any number of them: "はい、承知いたしました。"
_META_OPENING = re.compile(rf"[¡¿]?{_WORDS_FIRST}(?:{_strings(_META_PHRASES)})", re.I)
_META_WORD = re.compile(rf"(?:{_strings(_META_WORDS, False)})[^\w#]*")  # "#": a number (written so) follows
# every start of a word or phrase (one set lookup, not a scan of them all, for each point's first line)
_META_STARTS = frozenset(head[:i] for head in _META_WORDS + _META_PHRASES for i in range(len(head) + 1))
_NUMBER = re.compile(_N)
_NAMED = rf"{_any('names')}{_any('tails')}?"
_TITLE = r"\s*(?:\([^)\n]*\)|（[^）\n]*）)?"  # the point's title in brackets after its name
# it ends by naming the point or the task itself ("point 3:", "continuing with point 3.", "the expansion of this
# point:", "第2点的内容：", "ポイント3について説明します。"), with at most the point's title in brackets ("Here is point 2 of
# the manifesto: ..." is the point's own)
_META_TOPIC = re.compile(rf"(?:{_NAMED}|{_any('this_point')}{_any('tails')}?|{_any('tasks')}){_TITLE}"
                         r"\s*[:.!：。！][\s*]*$", re.I)
_META_LINE = 150  # longer, it says something
_COLON = re.compile("[:：]")
_COLONS = (":", "：")
# a first word that only acknowledges the task, before the point's own text on its line ("Certainly! Travel ...",
# "はい、承知いたしました。練習 ...")
_ACKNOWLEDGEMENTS = _strings(_all("acknowledgements"), False)
_ACKNOWLEDGED = re.compile(rf"¡?{_WORDS_FIRST}(?:{_ACKNOWLEDGEMENTS})(?:\s*+!\s++|[！。]\s*+)(?=\S)", re.I)
_ACKNOWLEDGED_ALONE = re.compile(rf"¡?{_WORDS_FIRST}(?:{_ACKNOWLEDGEMENTS})(?:\s*!|[！。])\s*", re.I)  # the rest to come
# the talk before a colon on a line that goes on with the point's text: it ends by naming the point
_META_HEAD = re.compile(rf"{_NAMED}{_TITLE}[\s*]*$", re.I)
# It offers more of the answer itself, or only hopes it helps or wishes well (a hope may come before an offer: "I hope
# this helps! Let me know if you'd like ...").
_CLOSING_HEADS, _HOPES, _WISHES, _WISHES_ON = (tuple(map(_plain, _all(field)))
                                                for field in ("offers", "hopes", "wishes", "wishes_on"))
_A_HOPE = rf"(?:{_strings(_HOPES + _WISHES, said=True)}|happy [a-z]+ing\b)\W*"  # and "Happy cooking!"
# wishes joined by "and" are one closing: "Good luck and happy cooking!", "Buon viaggio e buon appetito!"
_AND = "and|&|y|e|et|und"
# a sign-off joined to a wish: "Good luck, and enjoy the celebration!" (alone, "Enjoy ..." may be the point's advice)
_JOINED_SIGN_OFFS = ("enjoy", "have fun")
_JOINED_SIGN_OFF = (rf"(?:{'|'.join(_JOINED_SIGN_OFFS)})\b"  # one clause ("... enjoy the cake, but cut it early!")
                    r"(?:(?!\s(?:but|and|so|then)\s)[^.!?。！？:;：；—–\n]){0,40}")
_HOPE = rf"{_A_HOPE}(?:(?:{_AND})\s+(?:{_A_HOPE}|{_JOINED_SIGN_OFF}[!.]\W*))*"
_AND_SAID = re.compile(rf"(?:{_AND})(?:\s+|$)|(?:a|an|u|un)$")  # "and" being written
_CLOSING = re.compile(rf"(?:{_HOPE})?(?:{_strings(_CLOSING_HEADS, said=True)})|{_HOPE}$")
_LEADING_HOPE = re.compile(_HOPE)
# An offer that asks for something first, as one sentence in a paragraph of its own: "If you tell me which country
# you're leaning toward, I can outline its recognition steps." ("If you let me know by Friday, I can book the room."
# and "If you tell me the truth, I won't be angry." are the point's own: no more of the answer is offered.)
_ASKS_FIRST = ("if you tell me", "if you let me know")
_ASKING = rf"(?:{'|'.join(_ASKS_FIRST)})\b"
_OFFER_AFTER_ASKING = (rf"{_ASKING}[^.!?。！？:;：；—–\n]{{0,150}}\bi (?:can|could|'d be happy to|"
                       r"would be happy to) (?:outline|suggest|sketch|draft|tailor|recommend|help|put together|"
                       r"walk you through|map out|list|compare|narrow|give you|write up|check)\b[^.!?。！？:;：；—–\n]*")
_CLOSING_STARTS = frozenset(head[:i] for head in _CLOSING_HEADS + _HOPES + _WISHES + _WISHES_ON + _ASKS_FIRST
                            for i in range(len(head)))
_GERUND_STARTED = re.compile("happy [a-z]*$")  # may still become "happy cooking"
_SIGN_OFF_JOINED = re.compile(_JOINED_SIGN_OFF)  # after a wish's "and", being said
# A hope that goes on to the end of its one sentence: "I hope this helps you improve your chess skills!"; a wish, to
# an exclamation mark ("Good luck with your renovation!"). After a colon, a semicolon or a dash in it, only a short
# closing ("I hope this helps — good luck!", "Hope this helps: feel free to ask.", "Hope that helps — cheers!"):
# anything else says more ("... — pay weekly!", "Надеюсь, это поможет вам понять, что важно, — спросите себя ...").
_ONE_CLAUSE, _CLAUSE_MARK = "[^.!?。！？:;：；—–]*", r"\s*[:;：；—–]\s*"
# (a sign-off alone: "take care to pay on time!" is advice)
_SIGN_OFFS = ("cheers", "enjoy", "have fun", "take care", "you've got this", "all the best", "best wishes")
_CLOSING_WORDS = (rf"(?:{_strings(_HOPES + _WISHES + _WISHES_ON + _CLOSING_HEADS + ('feel free to ask',), said=True)}"
                  rf"|happy [a-z]+ing\b)[^.!?。！？:;：；—–,，]{{0,30}}|(?:{_strings(_SIGN_OFFS)})\W*(?=[.!。！])")
_HOPE_SENTENCE = rf"(?:{_strings(_HOPES, said=True)}){_ONE_CLAUSE}(?:{_CLAUSE_MARK}(?:{_CLOSING_WORDS}))?"
_SENTENCE_END = r"[.!。！]+[^\w.!?。！？]*"
# (a wish's one clause, with no second one joined: "Have a great time at the beach, but reapply sunscreen!" is advice)
# ("Have a great time at the party, I suggest warm bulbs!": advice joined, its comma gone in ``_plain``)
_WISH_CLAUSE = (r"(?:(?!\b(?:but|and|so|then|y|pero|e|mas|et|mais|und|aber|och|men|så|но|и|а|"
                r"i (?:suggest|recommend|find|always|usually|prefer|would|'d))\s)[^.!?。！？:;：；—–])*")
_WISH_SENTENCE, _EXCLAIMED = rf"(?:{_strings(_WISHES_ON)}){_WISH_CLAUSE}", r"[!！]+[^\w.!?。！？]*"
_HOPE_SAID = re.compile(rf"(?:{_HOPE_SENTENCE}{_SENTENCE_END}|{_WISH_SENTENCE}{_EXCLAIMED}"
                        rf"|{_OFFER_AFTER_ASKING}{_SENTENCE_END})$")
# while the call goes on, a hope is held back to its sentence's end, whatever follows a mark in it
_HOPE_BEING_SAID = re.compile(rf"(?:(?:{_strings(_HOPES, said=True)})[^.!?。！？]*(?:{_SENTENCE_END})?"
                              rf"|{_WISH_SENTENCE}(?:{_EXCLAIMED})?"
                              rf"|{_ASKING}[^.!?。！？:;：；—–\n]*(?:{_SENTENCE_END})?)$")
_CLOSING_SEEN = 120  # characters of a last line enough to tell


def talk_opening(body: str, final: bool, header_follows: Callable[[str, bool], bool | None] | None = None,
                 skipped: int = 0) -> int | None:
    """The length of a first line that only talks about the task ("I'll continue with point 3."; 0: none), or
    None while the line is still being written and may be one. ``header_follows(text, final)`` says whether the
    text after the line opens with the point's own header (None: not yet known): an introduction ending in a colon
    that it follows is talk too ("Here is what I wrote:\n\n**2. Title**\n\n..."). ``skipped``: the acknowledgements
    before ``body`` ("Sure!"), already taken for talk."""
    line, ended, rest = body.partition("\n")
    if not _META_OPENING.match(line):
        if not final and not ended and _may_open_meta(_lower(line)):
            return None
        # and then, maybe, more talk: "Sure!\n\nHere's point 2:"; not a sentence that goes on in lower case on its
        # line, of which the word is the subject ("Sure! is casual and friendly.", "¡Claro! es la forma más común.")
        acknowledged = _ACKNOWLEDGED.match(body)
        if acknowledged and ("\n" in acknowledged[0] or not body[acknowledged.end()].islower()):
            said = acknowledged[0]
            skipped += len(said.rstrip()) + said.count("\n")  # (spaces after it are no more talk)
            if skipped > _META_LINE:  # a model stuck on "Sure! Sure! ..." (or "Sure!\nSure!\n..."): no talk (it was
                return 0  # read again from its start at every piece while it went on, seconds for 10,000 characters)
            more = talk_opening(body[acknowledged.end():], final, header_follows, skipped)
            return None if more is None else acknowledged.end() + more
        return None if not final and _ACKNOWLEDGED_ALONE.fullmatch(body) else 0
    if len(line) > _META_LINE:
        return 0
    if (colon := _COLON.search(line)) and line[colon.end():].strip():
        # the talk goes, the point's text after it on the line stays; or it is all the point's
        head = line[:colon.start()]
        return colon.end() if _META_OPENING.match(head) and _META_HEAD.search(head) else 0
    if not rest.strip() and not final:
        return None  # nothing after it yet: it may be the whole point
    # with nothing after it, a sentence may be the point itself; an introduction of nothing is dropped (and the
    # point asked again)
    if _META_TOPIC.search(line) and (rest.strip() or line.rstrip(" *").endswith(_COLONS)):
        return len(line)
    if header_follows is not None and rest.strip() and line.rstrip(" *").endswith(_COLONS):
        follows = header_follows(rest.lstrip(), final)
        return None if follows is None else len(line) if follows else 0
    return 0


def _may_open_meta(low: str) -> bool:
    """Could the start of a first line (lower case) still grow into talk about the task ("Sure! Here's ...")?"""
    if len(low) > _META_LINE:  # no talk is so long (a model stuck on "Okay okay ..." was read word by word again)
        return False
    low = _NUMBER.sub("#", low.lstrip("¡¿"))  # as the phrases write a number
    while low not in _META_STARTS:
        if not (word := _META_WORD.match(low)):
            return False
        low = low[word.end():]  # an acknowledgement, maybe more to follow: "はい、承知いたしました。ポ"
    return True


def talk_closing(text: str, final: bool, fences: list[int]) -> int | None:
    """Where a last line that only offers more help ("Let me know if ..."), hopes it helps or wishes well begins,
    dropped once the call ended; held back (its start returned) while the call may still end after it. None: there
    is none. ``fences``: where code fences start, in the text or in one it begins."""
    if "\n" not in text:  # most pieces of most points: no copy of the text
        return None
    text = text.rstrip()
    if (start := text.rfind("\n")) < 0:
        return None  # the first line is the point's own
    # (the text above read from a window, not copied whole at every piece)
    if (text[max(0, start - 200):start].rstrip() or text[:start].rstrip()).endswith(_COLONS):
        return None  # and so is a line it announces ("for example:")
    if not outside_code(fences, start):
        return None  # a line of the point's own code block
    line = text[start:start + _CLOSING_SEEN].lstrip()
    if line[:1] in "-*•" and line[1:2].isspace():
        return None  # an item of the point's own list ("* Let me know if ..." as a sample line)
    seen = _plain(line.lstrip("*_"))  # the offer in emphasis
    if (asked := _ASKS_MORE.match(seen)) and (rest := seen[asked.end():].strip(" *_")):
        if (goes_on := _offer_goes_on(rest, final)) is None:
            return start  # (it may still go on as an offer: "I can ...")
        if not goes_on:
            return None  # a question to the reader, then the point's own advice ("Do you want more followers? Post")
    if _CLOSING.match(seen) or _hope_said(text, start, final):
        return start
    if final:
        return None
    if _may_start_closing(seen):
        return start
    hope = _LEADING_HOPE.match(seen)  # the longest: "ich hoffe, das hilft dir weiter! Bei ..."
    if not hope:
        return None
    rest = seen[hope.end():]
    if joined := _AND_SAID.match(rest):  # another wish may follow: "buon viaggio e buon app"
        rest = rest[joined.end():]
    # or a sign-off ("and enjoy the", and after "&", which the hope's \W* took)
    if _SIGN_OFF_JOINED.fullmatch(rest) or any(off.startswith(rest) for off in _JOINED_SIGN_OFFS):
        return start
    return start if _may_start_closing(rest) else None


def _offer_goes_on(rest: str, final: bool) -> bool | None:
    """Is what follows an offer's question more of the offer ("I can add some.", "Hope this helps!", "😊"), not the
    point's own advice? None while it may still become so."""
    if not _LETTER.search(rest) or rest.startswith(_OFFER_GOES_ON) or _CLOSING.match(rest):
        return True
    if not final and (any(goes_on.startswith(rest) for goes_on in _OFFER_GOES_ON) or _may_start_closing(rest)):
        return None
    return False


def _may_start_closing(seen: str) -> bool:
    return seen in _CLOSING_STARTS or bool(_GERUND_STARTED.match(seen))


def _hope_said(text: str, start: int, final: bool) -> bool:
    """Is the last line (at ``start``) a hope that the answer helps, said to the end of one sentence ("I hope this
    helps you improve your chess skills!"), or while the call may go on, may it still become one? Only as a
    paragraph of its own, in plain text: a sample line of the point's own is quoted, in emphasis or right under the
    line that announces it."""
    line, above = text[start:].strip(), text.rfind("\n", 0, start)
    if len(line) > _CLOSING_SEEN or above < 0 or text[above:start].strip() \
            or not (line[:1].isalnum() or line[:1] in "¡¿"):
        return False
    return bool((_HOPE_SAID if final else _HOPE_BEING_SAID).match(_plain(line)))
