"""Few-shot translation prompts for base (pretrained, not instruction-tuned) models such as the default Gemma 3
270M: the model continues a list of translations in the pair's languages,

    English: Your changes have been saved.
    German: Ihre Änderungen wurden gespeichert.

    English: <the text to translate>
    German:

and its answer ends at the end of that line. The examples are the translation memory's best human matches when
there are any, otherwise the built-in examples below (short UI sentences written for bayling-cat, the same five
sentences in every language, so any pair of these languages has examples). One example holds inline codes the
way the pipeline shows them to the model (``<1>…</1>``, ``<1/>``: see ``document.PLACEHOLDER``), so that the
model learns to copy them.

A base model follows examples, not instructions. What it can still be asked, and how (docs/engines.md):
- glossary terms: each term is shown as a translation of its own (``English: file`` / ``German: Datei``) before
  the sentence, a terminology preface the model copies from;
- the form of address: formal or informal example sentences (``Sie``/``du``, ``vous``/``tu``…);
- a revision turn ("use 'Datei'", "'file' must be translated as 'Datei'", "more formal", "less formal") is the
  same request translated again with that term added to the preface or the other example set.
Anything else raises ``UnsupportedRequest``: the model would answer it with a wrong translation, silently.
"""

from __future__ import annotations

import re
from typing import Sequence

from bayling_cat.errors import ModelError

TEMPLATE = "fewshot"

# The built-in examples: the same sentences in every language, index by index. The first two hold inline codes
# as the model sees them; two single words follow (without them "Save" came out as "Schließen"; with them en->de
# chrF++ went from 47.5 to 51.8 and en->zh BLEU from 37.3 to 39.3, en->fr chrF++ from 58.2 to 56.2). The code
# examples come first because a base model copies most from the examples nearest the text: with them last, it put
# codes into sentences that had none (6 of 20 en->de UI sentences against 3; chrF++ 44.5 against 47.8 on
# bench/data/default_model). Default: the form of address software uses in each language (formal where a language
# distinguishes and formal is usual in software UIs).
ENGLISH = (
    'Click <1>Settings</1> to change the language.',
    'You have <1/> new messages.',
    'Cancel',
    'Print',
    'Your changes have been saved.',
    'Do you want to delete this folder?',
    'Enter your password to continue.',
)
EXAMPLES: dict[str, tuple[str, ...]] = {
    "en": ENGLISH,
    'de': ('Klicken Sie auf <1>Einstellungen</1>, um die Sprache zu ändern.',
           'Sie haben <1/> neue Nachrichten.',
           'Abbrechen',
           'Drucken',
           'Ihre Änderungen wurden gespeichert.',
           'Möchten Sie diesen Ordner löschen?',
           'Geben Sie Ihr Passwort ein, um fortzufahren.'),
    'fr': ('Cliquez sur <1>Paramètres</1> pour changer la langue.',
           'Vous avez <1/> nouveaux messages.',
           'Annuler',
           'Imprimer',
           'Vos modifications ont été enregistrées.',
           'Voulez-vous supprimer ce dossier ?',
           'Saisissez votre mot de passe pour continuer.'),
    'es': ('Haga clic en <1>Configuración</1> para cambiar el idioma.',
           'Tiene <1/> mensajes nuevos.',
           'Cancelar',
           'Imprimir',
           'Se han guardado sus cambios.',
           '¿Desea eliminar esta carpeta?',
           'Introduzca su contraseña para continuar.'),
    'it': ('Faccia clic su <1>Impostazioni</1> per cambiare la lingua.',
           'Ha <1/> nuovi messaggi.',
           'Annulla',
           'Stampa',
           'Le sue modifiche sono state salvate.',
           'Vuole eliminare questa cartella?',
           'Inserisca la password per continuare.'),
    'pt': ('Clique em <1>Configurações</1> para alterar o idioma.',
           'Você tem <1/> novas mensagens.',
           'Cancelar',
           'Imprimir',
           'Suas alterações foram salvas.',
           'Deseja excluir esta pasta?',
           'Digite sua senha para continuar.'),
    'nl': ('Klik op <1>Instellingen</1> om de taal te wijzigen.',
           'U hebt <1/> nieuwe berichten.',
           'Annuleren',
           'Afdrukken',
           'Uw wijzigingen zijn opgeslagen.',
           'Wilt u deze map verwijderen?',
           'Voer uw wachtwoord in om door te gaan.'),
    'pl': ('Kliknij <1>Ustawienia</1>, aby zmienić język.',
           'Masz <1/> nowe wiadomości.',
           'Anuluj',
           'Drukuj',
           'Zmiany zostały zapisane.',
           'Czy chcesz usunąć ten folder?',
           'Wprowadź hasło, aby kontynuować.'),
    'ru': ('Нажмите <1>Настройки</1>, чтобы изменить язык.',
           'У вас <1/> новых сообщений.',
           'Отмена',
           'Печать',
           'Ваши изменения сохранены.',
           'Вы хотите удалить эту папку?',
           'Введите пароль, чтобы продолжить.'),
    'zh': ('单击<1>设置</1>以更改语言。',
           '您有 <1/> 条新消息。',
           '取消',
           '打印',
           '您的更改已保存。',
           '是否要删除此文件夹？',
           '请输入密码以继续。'),
    'zh-Hant': ('按一下<1>設定</1>以變更語言。',
                '您有 <1/> 則新訊息。',
                '取消',
                '列印',
                '您的變更已儲存。',
                '是否要刪除此資料夾？',
                '請輸入密碼以繼續。'),
    'ja': ('言語を変更するには、<1>設定</1>をクリックしてください。',
           '新しいメッセージが <1/> 件あります。',
           'キャンセル',
           '印刷',
           '変更が保存されました。',
           'このフォルダーを削除しますか？',
           '続行するにはパスワードを入力してください。'),
    'ko': ('언어를 변경하려면 <1>설정</1>을 클릭하세요.',
           '새 메시지가 <1/>개 있습니다.',
           '취소',
           '인쇄',
           '변경 내용이 저장되었습니다.',
           '이 폴더를 삭제하시겠습니까?',
           '계속하려면 암호를 입력하세요.'),
    'ar': ('انقر فوق <1>الإعدادات</1> لتغيير اللغة.',
           'لديك <1/> رسائل جديدة.',
           'إلغاء',
           'طباعة',
           'تم حفظ التغييرات.',
           'هل تريد حذف هذا المجلد؟',
           'أدخل كلمة المرور للمتابعة.'),
    'el': ('Κάντε κλικ στις <1>Ρυθμίσεις</1> για να αλλάξετε τη γλώσσα.',
           'Έχετε <1/> νέα μηνύματα.',
           'Άκυρο',
           'Εκτύπωση',
           'Οι αλλαγές σας αποθηκεύτηκαν.',
           'Θέλετε να διαγράψετε αυτόν τον φάκελο;',
           'Εισαγάγετε τον κωδικό πρόσβασής σας για να συνεχίσετε.'),
    'cs': ('Klikněte na <1>Nastavení</1> a změňte jazyk.',
           'Máte <1/> nových zpráv.',
           'Zrušit',
           'Tisk',
           'Vaše změny byly uloženy.',
           'Chcete tuto složku odstranit?',
           'Pokračujte zadáním hesla.'),
    'uk': ('Натисніть <1>Налаштування</1>, щоб змінити мову.',
           'У вас <1/> нових повідомлень.',
           'Скасувати',
           'Друк',
           'Ваші зміни збережено.',
           'Ви бажаєте видалити цю папку?',
           'Введіть пароль, щоб продовжити.'),
    'ro': ('Faceți clic pe <1>Setări</1> pentru a schimba limba.',
           'Aveți <1/> mesaje noi.',
           'Anulare',
           'Imprimare',
           'Modificările au fost salvate.',
           'Doriți să ștergeți acest dosar?',
           'Introduceți parola pentru a continua.'),
    'hu': ('A nyelv módosításához kattintson a <1>Beállítások</1> gombra.',
           '<1/> új üzenete van.',
           'Mégse',
           'Nyomtatás',
           'A módosítások mentése megtörtént.',
           'Biztosan törli ezt a mappát?',
           'A folytatáshoz adja meg a jelszavát.'),
    'tr': ("Dili değiştirmek için <1>Ayarlar</1>'a tıklayın.",
           '<1/> yeni mesajınız var.',
           'İptal',
           'Yazdır',
           'Değişiklikleriniz kaydedildi.',
           'Bu klasörü silmek istiyor musunuz?',
           'Devam etmek için parolanızı girin.'),
    'sv': ('Klicka på <1>Inställningar</1> för att ändra språk.',
           'Du har <1/> nya meddelanden.',
           'Avbryt',
           'Skriv ut',
           'Dina ändringar har sparats.',
           'Vill du ta bort den här mappen?',
           'Ange ditt lösenord för att fortsätta.'),
    'da': ('Klik på <1>Indstillinger</1> for at skifte sprog.',
           'Du har <1/> nye beskeder.',
           'Annuller',
           'Udskriv',
           'Dine ændringer er gemt.',
           'Vil du slette denne mappe?',
           'Indtast din adgangskode for at fortsætte.'),
    'nb': ('Klikk på <1>Innstillinger</1> for å endre språket.',
           'Du har <1/> nye meldinger.',
           'Avbryt',
           'Skriv ut',
           'Endringene dine er lagret.',
           'Vil du slette denne mappen?',
           'Skriv inn passordet ditt for å fortsette.'),
    'fi': ('Vaihda kieli napsauttamalla <1>Asetukset</1>.',
           'Sinulla on <1/> uutta viestiä.',
           'Peruuta',
           'Tulosta',
           'Muutokset on tallennettu.',
           'Haluatko poistaa tämän kansion?',
           'Jatka antamalla salasanasi.'),
    'af': ('Klik op <1>Instellings</1> om die taal te verander.',
           'Jy het <1/> nuwe boodskappe.',
           'Kanselleer',
           'Druk',
           'Jou veranderinge is gestoor.',
           'Wil jy hierdie gids uitvee?',
           'Voer jou wagwoord in om voort te gaan.'),
    'id': ('Klik <1>Pengaturan</1> untuk mengubah bahasa.',
           'Anda memiliki <1/> pesan baru.',
           'Batal',
           'Cetak',
           'Perubahan Anda telah disimpan.',
           'Apakah Anda ingin menghapus folder ini?',
           'Masukkan kata sandi Anda untuk melanjutkan.'),
    'vi': ('Nhấp vào <1>Cài đặt</1> để thay đổi ngôn ngữ.',
           'Bạn có <1/> tin nhắn mới.',
           'Hủy',
           'In',
           'Các thay đổi của bạn đã được lưu.',
           'Bạn có muốn xóa thư mục này không?',
           'Nhập mật khẩu của bạn để tiếp tục.'),
}
# The informal form of address, for languages whose default above is formal ("less formal", DeepL's
# formality=less). Polish, Portuguese, the Scandinavian languages, Finnish and Afrikaans UIs already address the
# user informally (no formal set).
INFORMAL: dict[str, tuple[str, ...]] = {
    'de': ('Klicke auf <1>Einstellungen</1>, um die Sprache zu ändern.',
           'Du hast <1/> neue Nachrichten.',
           'Abbrechen',
           'Drucken',
           'Deine Änderungen wurden gespeichert.',
           'Möchtest du diesen Ordner löschen?',
           'Gib dein Passwort ein, um fortzufahren.'),
    'fr': ('Clique sur <1>Paramètres</1> pour changer la langue.',
           'Tu as <1/> nouveaux messages.',
           'Annuler',
           'Imprimer',
           'Tes modifications ont été enregistrées.',
           'Veux-tu supprimer ce dossier ?',
           'Saisis ton mot de passe pour continuer.'),
    'es': ('Haz clic en <1>Configuración</1> para cambiar el idioma.',
           'Tienes <1/> mensajes nuevos.',
           'Cancelar',
           'Imprimir',
           'Se han guardado tus cambios.',
           '¿Quieres eliminar esta carpeta?',
           'Introduce tu contraseña para continuar.'),
    'it': ('Fai clic su <1>Impostazioni</1> per cambiare la lingua.',
           'Hai <1/> nuovi messaggi.',
           'Annulla',
           'Stampa',
           'Le tue modifiche sono state salvate.',
           'Vuoi eliminare questa cartella?',
           'Inserisci la password per continuare.'),
    'nl': ('Klik op <1>Instellingen</1> om de taal te wijzigen.',
           'Je hebt <1/> nieuwe berichten.',
           'Annuleren',
           'Afdrukken',
           'Je wijzigingen zijn opgeslagen.',
           'Wil je deze map verwijderen?',
           'Voer je wachtwoord in om door te gaan.'),
    'ru': ('Нажми <1>Настройки</1>, чтобы изменить язык.',
           'У тебя <1/> новых сообщений.',
           'Отмена',
           'Печать',
           'Твои изменения сохранены.',
           'Ты хочешь удалить эту папку?',
           'Введи пароль, чтобы продолжить.'),
}
FORMAL, INFORMAL_FORM = "formal", "informal"
INFORMAL_DEFAULT = frozenset({"pl", "pt", "sv", "da", "nb", "fi", "af"})  # their examples are the informal form


class UnsupportedRequest(ModelError):
    """A request a base model cannot serve (an instruction it would answer with a wrong translation)."""


def _key(lang: str) -> str | None:
    """The built-in example set for a language code: zh-TW / zh-Hant get Traditional Chinese."""
    parts = lang.replace("_", "-").split("-")
    primary = parts[0].lower()
    if primary == "zh" and any(p.lower() in ("hant", "tw", "hk", "mo") for p in parts[1:]):
        return "zh-Hant"
    primary = {"no": "nb"}.get(primary, primary)  # Norwegian: Bokmål
    return primary if primary in EXAMPLES else None


def has_examples(lang: str) -> bool:
    return _key(lang) is not None


def builtin_examples(source_lang: str, target_lang: str, formality: str | None = None) -> list[tuple[str, str]]:
    """The built-in example pairs for a language pair ([] when either language has none)."""
    src, tgt = _key(source_lang), _key(target_lang)
    if src is None or tgt is None or src == tgt:
        return []
    sources = EXAMPLES[src]
    targets = INFORMAL.get(tgt, EXAMPLES[tgt]) if formality == INFORMAL_FORM else EXAMPLES[tgt]
    return list(zip(sources, targets))


def supports_formality(target_lang: str, formality: str) -> bool:
    """Whether the built-in examples can show that form of address in the target language."""
    key = _key(target_lang)
    if key is None:
        return False
    return formality == FORMAL and key not in INFORMAL_DEFAULT or formality == INFORMAL_FORM and key in INFORMAL


def one_line(text: str) -> str:
    """A text as one prompt line (an example's line break would end the example early)."""
    return " ".join(text.split())


def _pair(source_name: str, target_name: str, source: str, target: str) -> str:
    if not source:  # a word asked for without its source word ("use 'Datei'"): shown as a target line
        return f"{target_name}: {one_line(target)}"
    return f"{source_name}: {one_line(source)}\n{target_name}: {one_line(target)}"


def render_prompt(text: str, source_name: str, target_name: str, examples: Sequence[tuple[str, str]] = (),
                  terms: Sequence[tuple[str, str]] = (), focus: Sequence[tuple[str, str]] = ()) -> str:
    """The few-shot prompt: the glossary terms as translations of their own, the examples, the terms a revision
    asked for (``focus``: right before the text, where a base model copies from most), then the text."""
    blocks = [_pair(source_name, target_name, s, t) for s, t in terms if t]
    blocks += [_pair(source_name, target_name, s, t) for s, t in examples]
    blocks += [_pair(source_name, target_name, s, t) for s, t in focus if t]
    blocks.append(f"{source_name}: {text}\n{target_name}:")
    return "\n\n".join(blocks)


class FewShotRequest(str):
    """The user turn of a translation on a base model: the rendered prompt as a string, and what it was made
    from, so that a revision turn can render it again with a term or another form of address."""

    fields = ("text", "source_lang", "target_lang", "source_name", "target_name", "examples", "terms",
              "formality", "builtin", "focus")

    def __new__(cls, text: str, source_lang: str, target_lang: str, source_name: str, target_name: str,
                examples: Sequence[tuple[str, str]] = (), terms: Sequence[tuple[str, str]] = (),
                formality: str | None = None, builtin: bool = False, focus: Sequence[tuple[str, str]] = ()):
        examples, terms, focus = ([tuple(e) for e in values] for values in (examples, terms, focus))
        shown = examples or (builtin_examples(source_lang, target_lang, formality) if builtin else [])
        request = super().__new__(cls, render_prompt(text, source_name, target_name, shown, terms, focus))
        request.text, request.source_lang, request.target_lang = text, source_lang, target_lang
        request.source_name, request.target_name = source_name, target_name
        request.examples, request.terms, request.formality, request.builtin = examples, terms, formality, builtin
        request.focus = focus
        return request

    def __reduce__(self):  # pickled for the cluster's workers: built again from its fields
        return _rebuild, tuple(getattr(self, f) for f in self.fields)

    def revised(self, terms: Sequence[tuple[str, str]] = (), formality: str | None = None) -> "FewShotRequest":
        """The same request with the terms a revision asks for right before the text (moved there from the
        preface: a term the first answer missed gets the place a base model copies from most) and/or another
        form of address."""
        terms = [tuple(t) for t in terms]
        focus = [t for t in self.focus if t not in terms] + terms
        named = {t for s, t in focus + self.terms if s}
        focus = [(s, t) for s, t in focus if s or t not in named]  # "use 'Datei'" when file = Datei is there
        return FewShotRequest(self.text, self.source_lang, self.target_lang, self.source_name, self.target_name,
                              self.examples, [t for t in self.terms if t not in focus], formality or self.formality,
                              self.builtin, focus)


def _rebuild(*args) -> FewShotRequest:
    return FewShotRequest(*args)


def formality_of(hint: str | None) -> str | None:
    """The form of address a hint or instruction asks for (DeepL's formality, "more formal"), if any."""
    if not hint:
        return None
    said = str(hint).lower()
    if re.search(r"\b(less formal|informal|casual)\b", said):
        return INFORMAL_FORM
    if re.search(r"\b(more formal|formal|polite)\b", said):
        return FORMAL
    return None


QUOTED = r"['\"‘’“”„«»]([^'\"‘’“”„«»]+)['\"‘’“”„«»]"
WORD = r"['\"‘’“”„«»]?([^'\"‘’“”„«»]+?)['\"‘’“”„«»]?"  # the source word, quoted or not
TERM_PATTERNS = (  # (pattern, which group is the source word, which the target word; 0: none)
    (re.compile(rf"^{QUOTED} must be translated as {QUOTED}$", re.I), 1, 2),
    (re.compile(rf"^{QUOTED} must stay {QUOTED}$", re.I), 1, 2),
    (re.compile(rf"^(?:translate|render) {WORD} (?:as|with|by) {QUOTED}$", re.I), 1, 2),
    (re.compile(rf"^use {QUOTED} (?:for|to translate) (?:the word )?{WORD}$", re.I), 2, 1),
    (re.compile(rf"^(?:do not|don't) use {QUOTED} \(use {QUOTED}\)$", re.I), 0, 2),  # the glossary's feedback
    (re.compile(rf"^use {QUOTED}(?: instead of {QUOTED})?$", re.I), 0, 1),
)
FEEDBACK = re.compile(r"^In your translation, (.*)\. Reply with the corrected translation only\.$", re.S)
AVOID = re.compile(rf"^(?:do not|don't) use {QUOTED}$", re.I)


def interpret(instruction: str, source: str) -> tuple[list[tuple[str, str]], str | None]:
    """What a revision instruction asks of a base model: terms to put in the preface ((source, target) pairs;
    the source is '' when only the target word is given) and a form of address. Raises UnsupportedRequest for
    anything else. The revision loop's own feedback ("In your translation, 'file' must be translated as
    'Datei'; do not use 'Akte'. Reply with …") is understood too; its "do not use" parts are already banned in
    decoding by the glossary stage."""
    feedback = FEEDBACK.match(instruction.strip())
    parts = feedback.group(1).split("; ") if feedback else re.split(r"\s*[;\n]\s*|\.\s+", instruction.strip())
    terms, formality, refused = [], None, []
    for part in (p.strip().rstrip(".!").strip() for p in parts):
        if not part:
            continue
        form = formality_of(part) if re.fullmatch(r"[\w\s()/.,'-]*", part) and len(part) < 80 else None
        if form:
            formality = form
            continue
        if feedback and (AVOID.match(part) or TERM_PATTERNS[4][0].match(part)):
            continue  # the glossary stage bans the forbidden word in decoding; its term is asked for on its own
        pair = _term(part, source)
        if pair is None:
            refused.append(part)
        else:
            terms.append(pair)
    if refused:
        raise UnsupportedRequest(
            f"the model is a base model (it continues examples, it does not follow instructions): it cannot do "
            f"{refused[0]!r}. It can: use 'WORD'; 'SOURCE' must be translated as 'WORD'; more formal; less formal "
            "(docs/engines.md)")
    return terms, formality


def _term(part: str, source: str) -> tuple[str, str] | None:
    for pattern, source_group, target_group in TERM_PATTERNS:
        m = pattern.match(part)
        if m:
            return (m.group(source_group).strip() if source_group else "", m.group(target_group).strip())
    return None


def check_turns(messages) -> None:
    """A conversation a base model can serve: translation requests and revision instructions only."""
    first = next((m for m in messages if m.role == "user"), None)
    if first is None or not isinstance(first.content, FewShotRequest):
        raise UnsupportedRequest("the model is a base model: it translates (few-shot examples) but does not chat; "
                                 "use an instruction-tuned model (a chat or BayLing model) for chat requests")


def render(messages) -> str:
    """The prompt for a conversation on a base model: the first request, revised by each later instruction."""
    check_turns(messages)
    turns = [m for m in messages if m.role != "system"]
    if turns[-1].role != "user":
        raise ValueError("a conversation to answer must end with a user turn")
    request: FewShotRequest = turns[0].content
    for m in turns[1:]:
        if m.role != "user":
            continue
        if isinstance(m.content, FewShotRequest):  # a memory example's turn pair never reaches here
            request = m.content
            continue
        terms, formality = interpret(m.content, request.text)
        if formality and not supports_formality(request.target_lang, formality):
            raise UnsupportedRequest(f"the model is a base model: it has no {formality} example sentences in "
                                     f"{request.target_name} to follow")
        request = request.revised(terms, formality)
    return str(request)
