"""Message texts, names and channel facts the generator draws from.

Mixed languages on purpose: emoji, Arabic and Hebrew (right-to-left) and accents are what break
archivers that assume ASCII or byte-length = character-length.
"""

from __future__ import annotations

# (language, text) customer messages
CUSTOMER_BODIES: list[tuple[str, str]] = [
    ("En", "Hi, my order hasn't arrived yet. Can you check?"),
    ("En", "Great 👍. Sending attachment now to you."),
    ("En", "I was charged twice for the same subscription 😡"),
    ("En", "Can I change my delivery address?"),
    ("En", "Thanks a lot, that solved it! 🙏"),
    ("En", "Is the store on Main Street open on Sunday?"),
    ("En", "The app keeps crashing when I open my account page."),
    ("En", "Do you ship to Canada? 🇨🇦"),
    ("En", "I'd like to cancel my contract, please."),
    ("En", "Here is the photo of the damaged box 📦"),
    ("En", "Still waiting for an answer..."),
    ("En", "What's the status of ticket #48213?"),
    ("Fr", "Bonjour, ma commande n'est toujours pas arrivée."),
    ("Fr", "Merci beaucoup pour votre réponse rapide ! 😊"),
    ("De", "Können Sie mir bitte die Rechnung noch einmal schicken?"),
    ("Es", "¿Cuál es el horario de atención al cliente?"),
    ("Ar", "مرحبا، لم يصل طلبي بعد. هل يمكنك المساعدة؟"),
    ("Ar", "شكرا جزيلا على المساعدة 🌹"),
    ("He", "שלום, ההזמנה שלי עדיין לא הגיעה."),
    ("He", "תודה רבה! 👍"),
    ("Ja", "注文した商品がまだ届いていません。"),
    ("Zh", "请问退款需要多长时间？"),
    ("Ru", "Здравствуйте, не могу войти в личный кабинет."),
    ("En", "Mixed: order №42 — délai? متى؟ מתי? 🤔"),
]

AGENT_BODIES: list[tuple[str, str]] = [
    ("En", "Thank you for your message! We are looking into it."),
    ("En", "Sorry for the trouble. Could you send me your order number?"),
    ("En", "Your refund has been processed; it takes 3-5 business days."),
    ("En", "Our stores are open 9am-6pm, Monday to Saturday."),
    ("En", "I've updated your delivery address ✅"),
    ("En", "Glad we could help! Have a great day 😊"),
    ("En", "Please try reinstalling the app and let us know."),
    ("En", "Hello! We have a special offer for you this week 🎉"),
    ("Fr", "Bonjour, nous revenons vers vous rapidement."),
    ("De", "Vielen Dank, die Rechnung ist unterwegs."),
    ("Es", "Gracias por contactarnos, le ayudamos enseguida."),
    ("Ar", "شكرا لتواصلك معنا، سنرد عليك قريبا."),
    ("He", "תודה על פנייתך, נחזור אליך בהקדם."),
    ("Ja", "お問い合わせありがとうございます。"),
]

EDITED_SUFFIX = " (edited)"

EMAIL_TITLES = [
    "Order not received",
    "Invoice request",
    "Re: your subscription",
    "Question about delivery",
    "Réclamation commande",
    "طلب استرداد",
]

FIRST_NAMES = [
    "Ava",
    "Noah",
    "Mia",
    "Liam",
    "Sofia",
    "Yuki",
    "Omar",
    "Lea",
    "Maya",
    "Ethan",
    "Chloé",
    "Jonas",
    "Fatima",
    "Avi",
    "Wei",
    "Olga",
    "Lucas",
    "Nour",
    "Emma",
    "Ravi",
]
LAST_NAMES = [
    "Smith",
    "Martin",
    "Müller",
    "García",
    "Cohen",
    "Haddad",
    "Tanaka",
    "Novak",
    "Rossi",
    "Dubois",
    "Levi",
    "Chen",
    "Ivanova",
    "Okafor",
    "Silva",
    "Brown",
]

# Channel types (Gen-1 enum, §3.1) with the content types each produces.
CHANNEL_TYPES: list[tuple[str, list[str]]] = [
    ("WhatsApp", ["Message", "Message", "Media"]),
    ("Facebook", ["Message", "Comment", "Photo"]),
    ("Instagram", ["Comment", "Photo"]),
    ("InstagramMessaging", ["Message"]),
    ("Linkedin", ["Comment", "Message"]),
    ("Viber", ["Message"]),
    ("Email", ["Email"]),
    ("Twitter", ["Tweet", "PrivateTweet"]),
    ("Messenger", ["Message"]),
    ("AppleMessagesForBusiness", ["Message"]),
    ("GoogleMyBusiness", ["Review"]),
]

ATTACHMENT_KINDS: list[tuple[str, str, int]] = [
    ("image/jpeg", "jpeg", 326705),
    ("application/pdf", "pdf", 84211),
    ("video/mp4", "mp4", 5242880),
    ("image/png", "png", 120934),
    ("audio/ogg", "ogg", 40112),
]

CATEGORY_COUNT = 6
